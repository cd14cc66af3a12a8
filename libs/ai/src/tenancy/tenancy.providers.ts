import { Provider } from '@nestjs/common';
import { DatabaseOptions, JobsOptions, RedisOptions } from '../ai-module-options';
import { DATABASE_OPTIONS, JOBS_OPTIONS, REDIS_OPTIONS } from '../ai-option-slices';
import { Admissions } from '../chat/admissions';
import { Clock } from '../common/clock';
import { BullMqJobQueue } from '../jobs/bullmq-job.queue';
import { DatabaseJobQueue } from '../jobs/database-job.queue';
import { JobEntity } from '../jobs/job.entity';
import { JobQueue } from '../jobs/job-queue';
import { JobRepository } from '../jobs/job.repository';
import { JobRunner } from '../jobs/job-runner';
import { Jobs, JobsShutdown } from '../jobs/job-types';
import { JobsService } from '../jobs/jobs.service';
import { RunningJobs } from '../jobs/running-jobs';
import { systemLookup, WebhookLookup } from '../jobs/webhook-address';
import { pinnedHttpTransport, WebhookNotifier, WebhookTransport } from '../jobs/webhook-notifier';
import { TenantLimiter } from '../limits/tenant-limiter';
import { Database, DatabaseSchema } from '../persistence/database';
import { migrationsFor } from '../persistence/migrations';
import { ApiKeyService } from './api-key.service';
import { Governance } from './governance';
import { LedgerRetention } from './ledger-retention';
import { PlanCatalog } from './plan-catalog';
import { QuotaLeases } from './quota-leases';
import { QuotaRepository } from './quota.repository';
import { QuotaViews } from './quota-view';
import { QuotaService } from './quota.service';
import { TENANCY_ENTITIES } from './tenancy-entities';
import { TenantService } from './tenant.service';
import { UsageLedger } from './usage-ledger';
import { UsageRepository } from './usage.repository';
import { UsageService } from './usage.service';

/** Every feature's tables, and the migrations that make them. */
const SCHEMA: DatabaseSchema = { entities: [...TENANCY_ENTITIES, JobEntity], migrations: migrationsFor };

/** Connected and migrated before anything that uses it is created. */
async function openDatabase(options: DatabaseOptions): Promise<Database> {
  const database = new Database(options, SCHEMA);
  await database.open(options.migrate);
  return database;
}

/** Jobs go through BullMQ when there is Redis to share, through the jobs table otherwise. */
async function jobQueueFrom(repository: JobRepository, clock: Clock, redis: RedisOptions | undefined, jobs: JobsOptions): Promise<JobQueue> {
  if (!redis) return new DatabaseJobQueue(repository, clock, jobs);
  const queue = new BullMqJobQueue(repository, clock, redis, jobs);
  await queue.ready();
  return queue;
}

/**
 * What the module adds with a database: tenants, keys, plans, limits and quotas (Governance, which then admits
 * every call in place of OpenAdmissions), the usage ledger and its retention, and asynchronous jobs. Loaded only then (see AiModule),
 * so that the resilient client alone loads none of it, nor TypeORM.
 */
export const TENANCY_PROVIDERS: Provider[] = [
  { provide: Database, useFactory: openDatabase, inject: [DATABASE_OPTIONS] },
  PlanCatalog,
  TenantService,
  ApiKeyService,
  QuotaRepository,
  QuotaLeases,
  QuotaService,
  { provide: QuotaViews, useExisting: QuotaService },
  UsageLedger,
  UsageRepository,
  UsageService,
  LedgerRetention,
  TenantLimiter,
  Governance,
  { provide: Admissions, useExisting: Governance },
  JobRepository,
  RunningJobs,
  { provide: WebhookTransport, useValue: pinnedHttpTransport },
  { provide: WebhookLookup, useValue: systemLookup },
  WebhookNotifier,
  { provide: JobQueue, useFactory: jobQueueFrom, inject: [JobRepository, Clock, REDIS_OPTIONS, JOBS_OPTIONS] },
  JobsService,
  { provide: Jobs, useExisting: JobsService },
  JobRunner,
  { provide: JobsShutdown, useExisting: JobRunner },
];

/** What an application may inject of them. */
export const TENANCY_EXPORTS = [TenantService, ApiKeyService, QuotaService, UsageService, LedgerRetention, Governance, Database];
