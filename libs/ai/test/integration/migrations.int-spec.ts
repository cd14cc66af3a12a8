import { Database } from '../../src/persistence/database';
import { migrationsFor } from '../../src/persistence/migrations';
import { aTenantId, query, startReplica } from './replica';
import { describeEachDatabase, describeWithPostgres, postgresDatabases } from './services';

const TABLES = ['plans', 'tenants', 'api_keys', 'quota_usage', 'quota_leases', 'reservations', 'usage_ledger', 'usage_dead_letters', 'jobs'].map((table) => `tollgate_${table}`);

async function missingTables(database: Database): Promise<string[]> {
  const runner = database.dataSource.createQueryRunner();
  try {
    const missing: string[] = [];
    for (const table of TABLES) if (!(await runner.hasTable(table))) missing.push(table);
    return missing;
  } finally {
    await runner.release();
  }
}

describeEachDatabase('Database migrations', (databases) => {
  it('should create every table on a fresh database', async () => {
    const replica = await startReplica({ database: { url: await databases.fresh() } });

    expect(await missingTables(replica.database)).toEqual([]);
    expect(await replica.database.dataSource.showMigrations()).toBe(false);
    await replica.close();
  });

  it('should start again on a migrated database, running nothing twice and keeping its rows', async () => {
    const url = await databases.fresh();
    const tenantId = aTenantId();
    const first = await startReplica({ database: { url } });
    await first.tenants.create({ id: tenantId, name: 'Survives restarts' });
    await first.close();

    const second = await startReplica({ database: { url } });

    const migrations = await query<{ name: string }>(second.database, 'SELECT name FROM tollgate_migrations');
    expect(migrations.map((row) => row.name)).toEqual(migrationsFor((name) => name).map((migration) => migration.name));
    expect((await second.tenants.get(tenantId)).name).toBe('Survives restarts');
    await second.close();
  });

  async function pendingSchemaChanges(url: string): Promise<string[]> {
    const replica = await startReplica({ database: { url } });
    try {
      const pending = await replica.database.dataSource.driver.createSchemaBuilder().log();
      return pending.upQueries.map((change) => change.query);
    } finally {
      await replica.close();
    }
  }

  it('should build every table and column the entities describe', async () => {
    const changes = await pendingSchemaChanges(await databases.fresh());

    expect(changes.filter((change) => !/\bINDEX\b/.test(change))).toEqual([]);
  });

  // The entities and the migration must name indexes alike, or TypeORM would re-create them.
  it('should name the indexes as the entities do, so that nothing is left for TypeORM to synchronize', async () => {
    expect(await pendingSchemaChanges(await databases.fresh())).toEqual([]);
  });
});

describe('Database migrations on sqlite::memory:', () => {
  it('should create every table in memory', async () => {
    const replica = await startReplica({ database: { url: 'sqlite::memory:' } });

    expect(await missingTables(replica.database)).toEqual([]);
    await replica.close();
  });
});

describeWithPostgres('Database migrations with replicas starting together on PostgreSQL', (url) => {
  const databases = postgresDatabases(url);

  it('should migrate once while two replicas start at the same time on a fresh database', async () => {
    const fresh = await databases.fresh();

    const replicas = await Promise.all([startReplica({ database: { url: fresh } }), startReplica({ database: { url: fresh } })]);

    const migrations = await query(replicas[0].database, 'SELECT name FROM tollgate_migrations');
    expect(migrations).toHaveLength(migrationsFor((name) => name).length);
    expect(await missingTables(replicas[1].database)).toEqual([]);
    await Promise.all(replicas.map((replica) => replica.close()));
  });
});
