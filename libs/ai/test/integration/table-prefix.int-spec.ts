import { DataSource, MigrationInterface, QueryRunner } from 'typeorm';
import { aTenantId, query, startReplica } from './replica';
import { describeEachDatabase, TestDatabases } from './services';
import { migrationsFor } from '../../src/persistence/migrations';

const MIGRATIONS = migrationsFor((name) => name).length;

/** An application's own schema, with the names a Tollgate of before table prefixes would have taken. */
class AppSchema1700000000000 implements MigrationInterface {
  name = 'AppSchema1700000000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('CREATE TABLE tenants (id VARCHAR(36) PRIMARY KEY, company VARCHAR(100) NOT NULL)');
    await queryRunner.query('CREATE TABLE jobs (id VARCHAR(36) PRIMARY KEY, cron VARCHAR(100) NOT NULL)');
    await queryRunner.query('CREATE TABLE plans (id VARCHAR(36) PRIMARY KEY, seats INTEGER NOT NULL)');
    await queryRunner.query(`INSERT INTO tenants (id, company) VALUES ('t1', 'Initech')`);
    await queryRunner.query(`INSERT INTO jobs (id, cron) VALUES ('j1', '0 * * * *')`);
    await queryRunner.query(`INSERT INTO plans (id, seats) VALUES ('p1', 5)`);
  }

  async down(): Promise<void> {}
}

/** The application's TypeORM, run as an application runs it: its migrations, in its `migrations` table. */
async function migrateTheApp(url: string): Promise<void> {
  const app = url.startsWith('sqlite:')
    ? new DataSource({ type: 'better-sqlite3', database: url.slice('sqlite:'.length), migrations: [AppSchema1700000000000] })
    : new DataSource({ type: 'postgres', url, migrations: [AppSchema1700000000000] });
  await app.initialize();
  await app.runMigrations();
  await app.destroy();
}

async function appRows(url: string): Promise<unknown> {
  const replica = await startReplica({ database: { url } });
  try {
    return {
      tenants: await query(replica.database, 'SELECT id, company FROM tenants'),
      jobs: await query(replica.database, 'SELECT id, cron FROM jobs'),
      plans: await query(replica.database, 'SELECT id, seats FROM plans'),
      migrations: (await query<{ name: string }>(replica.database, 'SELECT name FROM migrations')).map((row) => row.name),
    };
  } finally {
    await replica.close();
  }
}

describeEachDatabase('The library beside an application of its own tables', (databases: TestDatabases) => {
  it("should migrate its tables under the tollgate_ prefix, with its own migrations table, and leave the app's alone", async () => {
    const url = await databases.fresh();
    await migrateTheApp(url);
    const tenantId = aTenantId();

    const replica = await startReplica({ database: { url } });
    await replica.tenants.create({ id: tenantId, name: 'Beside the app' });

    expect(await query(replica.database, 'SELECT id, name FROM tollgate_tenants')).toEqual([{ id: tenantId, name: 'Beside the app' }]);
    expect(await query(replica.database, 'SELECT name FROM tollgate_migrations')).toHaveLength(MIGRATIONS);
    await replica.close();
    expect(await appRows(url)).toEqual({
      tenants: [{ id: 't1', company: 'Initech' }],
      jobs: [{ id: 'j1', cron: '0 * * * *' }],
      plans: [{ id: 'p1', seats: 5 }],
      migrations: ['AppSchema1700000000000'],
    });
  });

  it('should name its tables with the prefix it is given', async () => {
    const url = await databases.fresh();

    const replica = await startReplica({ database: { url, tablePrefix: 'ai_' } });
    await replica.tenants.create({ id: aTenantId(), name: 'Prefixed' });

    expect(await query(replica.database, 'SELECT name FROM ai_tenants')).toEqual([{ name: 'Prefixed' }]);
    expect(await query(replica.database, 'SELECT name FROM ai_migrations')).toHaveLength(MIGRATIONS);
    await replica.close();
  });

  it('should refuse to start, rather than migrate an empty schema beside them, on the unprefixed tables of an earlier version', async () => {
    const url = await databases.fresh();
    const earlier = await startReplica({ database: { url, tablePrefix: '' } });
    await earlier.tenants.create({ id: aTenantId(), name: 'Before prefixes' });
    await earlier.close();

    await expect(startReplica({ database: { url } })).rejects.toThrow(
      "this database holds Tollgate's tables without a prefix (tenants, usage_ledger, …, made before table prefixes): to keep using them, set the database option tablePrefix to ''",
    );
    const again = await startReplica({ database: { url, tablePrefix: '' } });
    expect(await query(again.database, 'SELECT name FROM tenants')).toEqual([{ name: 'Before prefixes' }]);
    await again.close();
  });

  it("should start beside another tool's migrations table, which has no name column", async () => {
    const url = await databases.fresh();
    const other = await startReplica({ database: { url, tablePrefix: 'other_' } });
    await query(other.database, 'CREATE TABLE migrations (id INTEGER PRIMARY KEY, migration VARCHAR(200) NOT NULL)');
    await other.close();

    const replica = await startReplica({ database: { url } });

    expect(await query(replica.database, 'SELECT name FROM tollgate_migrations')).toHaveLength(MIGRATIONS);
    await replica.close();
  });

  it('should refuse a prefix that is not a plain lower-case identifier', async () => {
    const url = await databases.fresh();
    for (const tablePrefix of ['x; DROP TABLE y; --', 'App_', '1_']) {
      await expect(startReplica({ database: { url, tablePrefix } })).rejects.toThrow(
        `database.tablePrefix must be lower-case letters, digits and underscores, starting with a letter or _, not '${tablePrefix}'`,
      );
    }
  });
});
