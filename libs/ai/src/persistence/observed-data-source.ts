import { DataSource, DataSourceOptions, QueryRunner, ReplicationMode } from 'typeorm';
import { DependencyUnavailableError } from '../errors/ai-errors';
import { DependencyStatus, failureOf } from '../health/dependency-status';
import { isConnectionFailure } from './connection-failure';

/** How soon a caller refused for an unreachable database is told to come back. */
const RETRY_AFTER_MS = 5_000;

/**
 * Every query TypeORM runs (entity manager, query builder, transaction, migration) goes through a
 * query runner made here, so this is the one place where a lost connection is recognised: it is
 * thrown as DependencyUnavailableError, and every outcome tells `status` whether the database answered.
 */
export class ObservedDataSource extends DataSource {
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
    const sqlite = this.options.type === 'better-sqlite3';
    runner.connect = () => connect().catch((error: unknown) => this.failed(error));
    runner.query = ((sql: string, ...rest: unknown[]) =>
      query(sqlite ? immediate(sql) : sql, ...(rest as [])).then(
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
 * SQLite's transactions take the write lock when they begin. TypeORM's read, then write (a save: SELECT, then UPDATE),
 * and a deferred transaction that has read cannot wait for the lock: should another connection hold it then (the
 * checkpointer's, a moment each second), its write fails at once with "database is locked", whatever the busy timeout.
 * Begun IMMEDIATE, it waits for the lock, within the busy timeout, before it reads anything.
 */
function immediate(sql: string): string {
  return sql === 'BEGIN TRANSACTION' ? 'BEGIN IMMEDIATE TRANSACTION' : sql;
}
