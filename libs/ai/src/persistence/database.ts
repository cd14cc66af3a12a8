import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DataSource, DataSourceOptions, EntityManager, QueryRunner, ReplicationMode } from 'typeorm';
import { DatabaseOptions } from '../ai-module-options';
import { DependencyUnavailableError } from '../errors/ai-errors';
import { DependencyStatus, failureOf } from '../health/dependency-status';
import { isConnectionFailure } from './connection-failure';

/** What the database holds: every feature's entities and the migrations that make their tables, handed in by the module. */
export interface DatabaseSchema {
  entities: NonNullable<DataSourceOptions['entities']>;
  migrations: NonNullable<DataSourceOptions['migrations']>;
}

export type Dialect = 'sqlite' | 'postgres';

/** An arbitrary constant that names Tollgate's migration lock among PostgreSQL advisory locks. */
const MIGRATION_LOCK = 7_253_101;

/** How soon a caller refused for an unreachable database is told to come back. */
const RETRY_AFTER_MS = 5_000;

/** A database that does not accept a connection in this time is unreachable, rather than a request that hangs. */
const CONNECT_TIMEOUT_MS = 5_000;

/**
 * `sqlite:./data/x.sqlite`, `sqlite::memory:` or `postgres://…` → a TypeORM DataSource (not yet
 * initialized) whose every query reports to `status`.
 */
export function createDataSource(url: string, schema: DatabaseSchema, status: DependencyStatus): DataSource {
  const common = { ...schema, migrationsRun: false, synchronize: false, logging: false };
  if (url.startsWith('sqlite:')) {
    const file = url.slice('sqlite:'.length);
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
    return new ObservedDataSource(status, {
      ...common,
      type: 'better-sqlite3',
      database: file,
      // WAL lets readers run beside the single writer; a busy timeout rides out a concurrent migration.
      // synchronous = NORMAL: in WAL mode a commit survives the process dying (only the OS's or the power's
      // failure can lose the last ones, never half of one), without an fsync per commit on the event loop.
      prepareDatabase: (db: { pragma(sql: string): unknown }) => {
        db.pragma('journal_mode = WAL');
        db.pragma('synchronous = NORMAL');
        db.pragma('busy_timeout = 5000');
      },
    });
  }
  return new ObservedDataSource(status, { ...common, type: 'postgres', url, connectTimeoutMS: CONNECT_TIMEOUT_MS, extra: { max: 20 } });
}

/**
 * Every query TypeORM runs (entity manager, query builder, transaction, migration) goes through a
 * query runner made here, so this is the one place where a lost connection is recognised: it is
 * thrown as DependencyUnavailableError, and every outcome tells `status` whether the database answered.
 */
class ObservedDataSource extends DataSource {
  /** SQLite's driver hands out its one query runner again and again: it is observed once. */
  private readonly observed = new WeakSet<QueryRunner>();

  constructor(
    private readonly status: DependencyStatus,
    options: DataSourceOptions,
  ) {
    super(options);
  }

  override createQueryRunner(mode?: ReplicationMode): QueryRunner {
    const runner = super.createQueryRunner(mode);
    if (this.observed.has(runner)) return runner;
    this.observed.add(runner);
    const connect = runner.connect.bind(runner);
    const query = runner.query.bind(runner);
    runner.connect = () => connect().catch((error: unknown) => this.failed(error));
    runner.query = ((...args: Parameters<QueryRunner['query']>) =>
      query(...args).then(
        (result) => {
          this.status.reachable();
          return result;
        },
        (error: unknown) => this.failed(error),
      )) as QueryRunner['query'];
    return runner;
  }

  private failed(error: unknown): never {
    if (error instanceof DependencyUnavailableError) throw error;
    if (!isConnectionFailure(error)) {
      // The database answered, if only to refuse the statement.
      this.status.reachable();
      throw error;
    }
    this.status.unreachable(failureOf(error));
    throw new DependencyUnavailableError('database', RETRY_AFTER_MS, error);
  }
}

/**
 * The library's database: the one DataSource, and the one way to write. SQLite runs every
 * statement on a single connection, where concurrent TypeORM transactions would nest into each
 * other's savepoints, so there writes are queued one transaction at a time; PostgreSQL runs
 * them concurrently and relies on its row locks.
 */
export class Database {
  readonly dataSource: DataSource;
  readonly dialect: Dialect;
  /** Whether the database answered the last query; a lost connection fails calls with DependencyUnavailableError until it does again. */
  readonly status = new DependencyStatus('database', 'calls that need it are refused until it answers again');
  private queue: Promise<unknown> = Promise.resolve();

  /** Made by the module (see openDatabase in ai.module.ts), which hands it every feature's schema. */
  constructor(options: DatabaseOptions, schema: DatabaseSchema) {
    this.dataSource = createDataSource(options.url, schema, this.status);
    this.dialect = this.dataSource.options.type === 'postgres' ? 'postgres' : 'sqlite';
  }

  /** Connects and brings the schema up to date. */
  async open(migrate: boolean): Promise<void> {
    await this.dataSource.initialize();
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

  get manager(): EntityManager {
    return this.dataSource.manager;
  }

  transaction<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    if (this.dialect === 'postgres') return this.dataSource.transaction(work);
    const run = this.queue.then(() => this.dataSource.transaction(work));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Called by AiLifecycle, last: everything else may still write until then. */
  async close(): Promise<void> {
    if (this.dataSource.isInitialized) await this.dataSource.destroy();
  }
}
