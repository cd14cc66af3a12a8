import { Inject, Injectable } from '@nestjs/common';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DataSource, EntityManager } from 'typeorm';
import { ResolvedAiOptions } from '../ai-module-options';
import { RESOLVED_AI_OPTIONS } from '../ai.module-definition';
import { ApiKeyEntity } from '../tenancy/api-key.entity';
import { PlanEntity } from '../tenancy/plan.entity';
import { QuotaUsageEntity } from '../tenancy/quota-usage.entity';
import { ReservationEntity } from '../tenancy/reservation.entity';
import { TenantEntity } from '../tenancy/tenant.entity';
import { UsageRecordEntity } from '../tenancy/usage-record.entity';
import { JobEntity } from '../jobs/job.entity';
import { Jobs1765000000000 } from './migrations/1765000000000-jobs';
import { InitialSchema1764000000000 } from './migrations/1764000000000-initial-schema';
import { TenantLogContent1764100000000 } from './migrations/1764100000000-tenant-log-content';

export const ENTITIES = [TenantEntity, ApiKeyEntity, PlanEntity, QuotaUsageEntity, ReservationEntity, UsageRecordEntity, JobEntity];
export const MIGRATIONS = [InitialSchema1764000000000, TenantLogContent1764100000000, Jobs1765000000000];

export type Dialect = 'sqlite' | 'postgres';

/** An arbitrary constant that names Tollgate's migration lock among PostgreSQL advisory locks. */
const MIGRATION_LOCK = 7_253_101;

/** `sqlite:./data/x.sqlite`, `sqlite::memory:` or `postgres://…` → a TypeORM DataSource (not yet initialized). */
export function createDataSource(url: string): DataSource {
  const common = { entities: ENTITIES, migrations: MIGRATIONS, migrationsRun: false, synchronize: false, logging: false };
  if (url.startsWith('sqlite:')) {
    const file = url.slice('sqlite:'.length);
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
    return new DataSource({
      ...common,
      type: 'better-sqlite3',
      database: file,
      // WAL lets readers run beside the single writer; a busy timeout rides out a concurrent migration.
      prepareDatabase: (db: { pragma(sql: string): unknown }) => {
        db.pragma('journal_mode = WAL');
        db.pragma('busy_timeout = 5000');
      },
    });
  }
  return new DataSource({ ...common, type: 'postgres', url, extra: { max: 20 } });
}

/**
 * The library's database: the one DataSource, and the one way to write. SQLite runs every
 * statement on a single connection, where concurrent TypeORM transactions would nest into each
 * other's savepoints, so there writes are queued one transaction at a time; PostgreSQL runs
 * them concurrently and relies on its row locks.
 */
@Injectable()
export class Database {
  readonly dataSource: DataSource;
  readonly dialect: Dialect;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(@Inject(RESOLVED_AI_OPTIONS) options: ResolvedAiOptions) {
    this.dataSource = createDataSource(options.database.url);
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
