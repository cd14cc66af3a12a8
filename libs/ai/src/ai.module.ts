import { Module } from '@nestjs/common';
import {
  AiModuleOptions,
  AlertOptions,
  DatabaseOptions,
  JobsOptions,
  RedisOptions,
  resolveAiOptions,
  ResolvedUpstreamOptions,
  SecretOptions,
  TimeoutOptions,
} from './ai-module-options';
import { AiLifecycle } from './ai-lifecycle';
import { AiService } from './ai.service';
import { ChatPipeline } from './chat/chat-pipeline';
import { JobEvents } from './jobs/job-events';
import { UpstreamEvents } from './upstream/upstream-events';
import { ConfigurableModuleClass, MODULE_OPTIONS_TOKEN, RESOLVED_AI_OPTIONS } from './ai.module-definition';
import {
  ALERT_OPTIONS,
  DATABASE_OPTIONS,
  JOBS_OPTIONS,
  OPTION_SLICE_PROVIDERS,
  REDIS_OPTIONS,
  SECRET_OPTIONS,
  TIMEOUT_OPTIONS,
  UPSTREAM_OPTIONS,
} from './ai-option-slices';
import { Clock, SystemClock } from './common/clock';
import { Random } from './common/random';
import { ContextFitter } from './context/context-fitter';
import { ModelRegistry } from './context/model-registry';
import { Pricing } from './context/pricing';
import { TokenCounter } from './context/token-counter';
import { RedisConnection } from './limits/redis-connection';
import { TenantLimiter } from './limits/tenant-limiter';
import { Database, DatabaseSchema } from './persistence/database';
import { MIGRATIONS } from './persistence/migrations';
import { TENANCY_ENTITIES } from './tenancy/tenancy-entities';
import { JobEntity } from './jobs/job.entity';
import { ApiKeyService } from './tenancy/api-key.service';
import { Governance } from './tenancy/governance';
import { PlanCatalog } from './tenancy/plan-catalog';
import { QuotaLeases } from './tenancy/quota-leases';
import { QuotaRepository } from './tenancy/quota.repository';
import { QuotaService } from './tenancy/quota.service';
import { TenantService } from './tenancy/tenant.service';
import { UsageLedger } from './tenancy/usage-ledger';
import { UsageService } from './tenancy/usage.service';
import { BullMqJobQueue } from './jobs/bullmq-job.queue';
import { DatabaseJobQueue } from './jobs/database-job.queue';
import { JobQueue } from './jobs/job-queue';
import { JobRepository } from './jobs/job.repository';
import { JobRunner } from './jobs/job-runner';
import { JobsService } from './jobs/jobs.service';
import { RunningJobs } from './jobs/running-jobs';
import { systemLookup, WebhookLookup } from './jobs/webhook-address';
import { pinnedHttpTransport, WebhookNotifier, WebhookTransport } from './jobs/webhook-notifier';
import { KeyVerification } from './secrets/key-verification';
import { SecretProvider, StaticSecretProvider } from './secrets/secret-provider';
import { UpstreamKeyManager } from './secrets/upstream-key-manager';
import { AiMetrics } from './telemetry/ai-metrics';
import { AlertEvaluator } from './telemetry/alert-evaluator';
import { AlertNotifier, LogAlertNotifier, WebhookAlertNotifier } from './telemetry/alert-notifier';
import { CallEvents } from './telemetry/call-events';
import { QuotaWatch } from './telemetry/quota-watch';
import { BreakerRegistry } from './upstream/breaker-registry';
import { ResilientUpstream } from './upstream/resilient-upstream';
import { RetryBudget } from './upstream/retry-budget';
import { UndiciUpstreamClient } from './upstream/undici-upstream.client';
import { UpstreamClient } from './upstream/upstream-client';

/** Every feature's tables, and the migrations that make them. */
const SCHEMA: DatabaseSchema = { entities: [...TENANCY_ENTITIES, JobEntity], migrations: MIGRATIONS };

/** Connected and migrated before anything that uses it is created. */
async function openDatabase(options: DatabaseOptions): Promise<Database> {
  const database = new Database(options, SCHEMA);
  await database.open(options.migrate);
  return database;
}

/** The key is read before anything can call the upstream: no key, no start. */
async function loadUpstreamKey(provider: SecretProvider, clock: Clock, secrets: SecretOptions): Promise<UpstreamKeyManager> {
  const keys = new UpstreamKeyManager(provider, clock, secrets);
  await keys.load();
  return keys;
}

function secretProviderFrom({ apiKey, secretProvider }: ResolvedUpstreamOptions): SecretProvider {
  if (secretProvider) return secretProvider;
  if (apiKey !== undefined) return new StaticSecretProvider(apiKey);
  throw new Error('AiModule needs upstream.apiKey or upstream.secretProvider');
}

function alertNotifierFrom({ webhookUrl }: AlertOptions): AlertNotifier {
  return webhookUrl ? new WebhookAlertNotifier(webhookUrl) : new LogAlertNotifier();
}

/** Jobs go through BullMQ when there is Redis to share, through the jobs table otherwise. */
async function jobQueueFrom(repository: JobRepository, clock: Clock, redis: RedisOptions | undefined, jobs: JobsOptions): Promise<JobQueue> {
  if (!redis) return new DatabaseJobQueue(repository, clock, jobs);
  const queue = new BullMqJobQueue(repository, clock, redis, jobs);
  await queue.ready();
  return queue;
}

async function connectRedis(redis: RedisOptions | undefined): Promise<RedisConnection> {
  const connection = new RedisConnection(redis);
  await connection.ready();
  return connection;
}

/**
 * `imports: [AiModule.forRoot({ upstream: { apiKey } })]` or `AiModule.forRootAsync({ inject, useFactory })`,
 * then inject `AiService`. Pass `isGlobal: true` to use it from every module.
 */
@Module({
  providers: [
    { provide: RESOLVED_AI_OPTIONS, useFactory: resolveAiOptions, inject: [MODULE_OPTIONS_TOKEN] },
    ...OPTION_SLICE_PROVIDERS,
    { provide: Clock, useClass: SystemClock },
    { provide: Random, useValue: () => Math.random() },
    {
      provide: UpstreamClient,
      useFactory: (upstream: ResolvedUpstreamOptions, timeouts: TimeoutOptions) => new UndiciUpstreamClient(upstream, timeouts),
      inject: [UPSTREAM_OPTIONS, TIMEOUT_OPTIONS],
    },
    { provide: Database, useFactory: openDatabase, inject: [DATABASE_OPTIONS] },
    { provide: SecretProvider, useFactory: secretProviderFrom, inject: [UPSTREAM_OPTIONS] },
    { provide: UpstreamKeyManager, useFactory: loadUpstreamKey, inject: [SecretProvider, Clock, SECRET_OPTIONS] },
    KeyVerification,
    AiMetrics,
    CallEvents,
    UpstreamEvents,
    JobEvents,
    QuotaWatch,
    { provide: AlertNotifier, useFactory: alertNotifierFrom, inject: [ALERT_OPTIONS] },
    AlertEvaluator,
    { provide: RedisConnection, useFactory: connectRedis, inject: [REDIS_OPTIONS] },
    BreakerRegistry,
    RetryBudget,
    ResilientUpstream,
    TokenCounter,
    ModelRegistry,
    ContextFitter,
    Pricing,
    PlanCatalog,
    TenantService,
    ApiKeyService,
    QuotaRepository,
    QuotaLeases,
    QuotaService,
    UsageLedger,
    UsageService,
    TenantLimiter,
    Governance,
    JobRepository,
    RunningJobs,
    { provide: WebhookTransport, useValue: pinnedHttpTransport },
    { provide: WebhookLookup, useValue: systemLookup },
    WebhookNotifier,
    { provide: JobQueue, useFactory: jobQueueFrom, inject: [JobRepository, Clock, REDIS_OPTIONS, JOBS_OPTIONS] },
    JobsService,
    JobRunner,
    ChatPipeline,
    AiService,
    AiLifecycle,
  ],
  exports: [
    AiService,
    BreakerRegistry,
    RetryBudget,
    TenantService,
    ApiKeyService,
    QuotaService,
    UsageService,
    Governance,
    Database,
    RedisConnection,
    UpstreamKeyManager,
    KeyVerification,
    AiMetrics,
    AlertEvaluator,
    CallEvents,
    Clock,
  ],
})
export class AiModule extends ConfigurableModuleClass {}

export type { AiModuleOptions };
