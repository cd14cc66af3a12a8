import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { DataSource, DataSourceOptions, EntityManager, MigrationInterface } from 'typeorm';
import { DatabaseOptions } from '../ai-module-options';
import { requireOptional } from '../common/optional-package';
import { DependencyStatus } from '../health/dependency-status';
import type { DatabaseProbe } from './database-probe';
import type * as Observed from './observed-data-source';
import { SqliteCheckpointer } from './sqlite-checkpointer';
import { SqliteWriter } from './sqlite-writer';

/** A table's name as this database calls it: with the module's prefix. */
export type TableName = (name: string) => string;

/** What the database holds: every feature's entities, and the migrations that make their tables under their prefixed names. */
export interface DatabaseSchema {
  entities: NonNullable<DataSourceOptions['entities']>;
  migrations: (table: TableName) => Array<new () => MigrationInterface>;
}

export type Dialect = DatabaseProbe['dialect'];

/** An arbitrary constant that names Tollgate's migration lock among PostgreSQL advisory locks. */
const MIGRATION_LOCK = 7_253_101;

/** A database that does not accept a connection in this time is unreachable, rather than a request that hangs. */
const CONNECT_TIMEOUT_MS = 5_000;

/** The first migration, by the name TypeORM records it under: how an unprefixed schema of an earlier version is recognised. */
const FIRST_MIGRATION = 'InitialSchema1764000000000';

/** What needs TypeORM and a driver, as an error that they are missing says. */
export const DATABASE_FEATURE = "Tollgate's database (the `database` option)";

/** TypeORM and the database's driver are optional peer dependencies, loaded with the first database. */
function loadTypeorm(url: string): typeof Observed {
  requireOptional('typeorm', DATABASE_FEATURE);
  if (url.startsWith('sqlite:')) requireOptional('better-sqlite3', `${DATABASE_FEATURE} on SQLite`);
  else requireOptional('pg', `${DATABASE_FEATURE} on PostgreSQL`);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('./observed-data-source') as typeof Observed;
}

/**
 * `sqlite:./data/x.sqlite`, `sqlite::memory:` or `postgres://…` → a TypeORM DataSource (not yet
 * initialized) whose every query reports to `status`, its tables and migrations table named with `tablePrefix`.
 */
export function createDataSource({ url, tablePrefix }: Pick<DatabaseOptions, 'url' | 'tablePrefix'>, schema: DatabaseSchema, status: DependencyStatus): DataSource {
  const { ObservedDataSource } = loadTypeorm(url);
  const table: TableName = (name) => `${tablePrefix}${name}`;
  const common = {
    entities: schema.entities,
    migrations: schema.migrations(table),
    entityPrefix: tablePrefix,
    migrationsTableName: table('migrations'),
    migrationsRun: false,
    synchronize: false,
    logging: false,
  };
  if (url.startsWith('sqlite:')) {
    const file = sqliteFileOf(url);
    if (file !== undefined) mkdirSync(dirname(file), { recursive: true });
    return new ObservedDataSource(status, {
      ...common,
      type: 'better-sqlite3',
      database: file ?? ':memory:',
      // WAL lets readers run beside the single writer; a busy timeout rides out a concurrent migration.
      // synchronous = NORMAL: in WAL mode a commit survives the process dying (only the OS's or the power's
      // failure can lose the last ones, never half of one), without an fsync per commit on the event loop.
      // The log is checkpointed by a worker thread (SqliteCheckpointer), not by the COMMIT that fills it; should the
      // worker fail, a COMMIT still does, ten times later than SQLite's default.
      prepareDatabase: (db: { pragma(sql: string): unknown }) => {
        db.pragma('journal_mode = WAL');
        db.pragma('synchronous = NORMAL');
        db.pragma('busy_timeout = 5000');
        db.pragma('wal_autocheckpoint = 10000');
      },
    });
  }
  // Pipelined connections send the statements a caller starts together in one write, and read their answers in
  // order: a batch of reservations is one round trip (QuotaRepository.commitAtOnce).
  return new ObservedDataSource(status, { ...common, type: 'postgres', url, connectTimeoutMS: CONNECT_TIMEOUT_MS, extra: { max: 20, pipeline: true } });
}

/**
 * The library's database: the one DataSource, and the one way to write. SQLite runs every
 * statement on a single connection, where concurrent TypeORM transactions would nest into each
 * other's savepoints, so there writes are queued one transaction at a time; PostgreSQL runs
 * them concurrently and relies on its row locks.
 */
export class Database implements DatabaseProbe {
  readonly dataSource: DataSource;
  readonly dialect: Dialect;
  /** Whether the database answered the last query; a lost connection fails calls with DependencyUnavailableError until it does again. */
  readonly status = new DependencyStatus('database', 'calls that need it are refused until it answers again');
  private queue: Promise<unknown> = Promise.resolve();
  private checkpointer?: SqliteCheckpointer;
  private readonly writers = new Map<string, SqliteWriter>();

  /** Made by the module (see openDatabase in ai.module.ts), which hands it every feature's schema. */
  constructor(
    private readonly options: DatabaseOptions,
    schema: DatabaseSchema,
  ) {
    this.dataSource = createDataSource(options, schema, this.status);
    this.dialect = this.dataSource.options.type === 'postgres' ? 'postgres' : 'sqlite';
  }

  /** A table's name in this database: `quota_usage` → `tollgate_quota_usage`. */
  table(name: string): string {
    return `${this.options.tablePrefix}${name}`;
  }

  /** Connects and brings the schema up to date. */
  async open(migrate: boolean): Promise<void> {
    await this.dataSource.initialize();
    const file = sqliteFileOf(this.options.url);
    if (file !== undefined) this.checkpointer = new SqliteCheckpointer(file);
    this.prefixIndexNames();
    await this.refuseUnprefixedSchema();
    if (!migrate) return;
    if (this.dialect === 'sqlite') {
      await this.dataSource.runMigrations({ transaction: 'all' });
      return;
    }
    // Replicas starting together must not race each other through the same migration.
    const runner = this.dataSource.createQueryRunner();
    try {
      await runner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
      await this.dataSource.runMigrations({ transaction: 'all' });
    } finally {
      await runner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
      await runner.release();
    }
  }

  /**
   * The entities name their indexes as the migrations do, prefix included: TypeORM prefixes only table names
   * (`entityPrefix`), and its schema builder compares the rest with the database.
   */
  private prefixIndexNames(): void {
    for (const entity of this.dataSource.entityMetadatas) {
      for (const index of entity.indices) if (index.givenName) index.name = this.table(index.givenName);
    }
  }

  /**
   * Tables of a version before prefixes, under their bare names, are not taken for an empty database (which
   * would migrate a second, empty schema beside them and so forget every quota and ledger row): the start stops.
   */
  private async refuseUnprefixedSchema(): Promise<void> {
    if (this.options.tablePrefix === '') return;
    const runner = this.dataSource.createQueryRunner();
    try {
      if (await runner.hasTable(this.table('migrations'))) return;
      // Another tool's `migrations` table (without TypeORM's `name` column) is not ours to read.
      if (!(await runner.hasColumn('migrations', 'name'))) return;
      const placeholder = this.dialect === 'postgres' ? '$1' : '?';
      const earlier: unknown[] = await runner.query(`SELECT name FROM migrations WHERE name = ${placeholder}`, [FIRST_MIGRATION]);
      if (earlier.length === 0) return;
    } finally {
      await runner.release();
    }
    throw new Error(
      `this database holds Tollgate's tables without a prefix (tenants, usage_ledger, …, made before table prefixes): ` +
        `to keep using them, set the database option tablePrefix to '' (the gateway: DATABASE_TABLE_PREFIX=), or rename them to ${this.table('…')}`,
    );
  }

  async ping(): Promise<void> {
    await this.manager.query('SELECT 1');
  }

  get manager(): EntityManager {
    return this.dataSource.manager;
  }

  transaction<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    if (this.dialect === 'postgres') return this.dataSource.transaction(work);
    const run = this.queue.then(() => this.dataSource.transaction(work));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * SQLite in a file: the worker thread that runs `entry`'s writes on a connection of its own (see SqliteWriter), one
   * per entry, made once the database is open; undefined for PostgreSQL, whose driver does not block the loop, and
   * for `sqlite::memory:`, which no other connection can open.
   */
  offLoopWriter(entry: string): SqliteWriter | undefined {
    const file = sqliteFileOf(this.options.url);
    if (file === undefined || !this.dataSource.isInitialized) return undefined;
    let writer = this.writers.get(entry);
    if (writer === undefined) this.writers.set(entry, (writer = new SqliteWriter({ entry, file, tablePrefix: this.options.tablePrefix })));
    return writer;
  }

  /** Called by AiLifecycle, last: everything else may still write until then. */
  async close(): Promise<void> {
    for (const writer of this.writers.values()) await writer.stop();
    await this.checkpointer?.stop();
    if (this.dataSource.isInitialized) await this.dataSource.destroy();
  }
}

/** The file of a `sqlite:<file>` URL; undefined for PostgreSQL and for `sqlite::memory:`, which has no log. */
function sqliteFileOf(url: string): string | undefined {
  if (!url.startsWith('sqlite:')) return undefined;
  const file = url.slice('sqlite:'.length);
  return file === ':memory:' ? undefined : file;
}
