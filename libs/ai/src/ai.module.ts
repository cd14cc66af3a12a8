import { DynamicModule, Module } from '@nestjs/common';
import {
  AiModuleOptions,
  AlertOptions,
  BreakerOptions,
  resolveAiOptions,
  ResolvedAiOptions,
  SecretOptions,
  TimeoutOptions,
} from './ai-module-options';
import { AiLifecycle } from './ai-lifecycle';
import { AiService } from './ai.service';
import { ChatPipeline } from './chat/chat-pipeline';
import { EmbeddingsPipeline } from './embeddings/embeddings-pipeline';
import { ResponsesPipeline } from './responses/responses-pipeline';
import { JobEvents } from './jobs/job-events';
import { UpstreamEvents } from './upstream/upstream-events';
import { ConfigurableModuleClass, MODULE_OPTIONS_TOKEN, OPTIONS_TYPE } from './ai.module-definition';
import {
  ALERT_OPTIONS,
  BREAKER_OPTIONS,
  OPTION_SLICE_PROVIDERS,
  REDIS_OPTIONS,
  RESOLVED_AI_OPTIONS,
  SECRET_OPTIONS,
  TIMEOUT_OPTIONS,
  UPSTREAM_POOL_OPTIONS,
  WITH_DATABASE,
} from './ai-option-slices';
import { Clock, SystemClock } from './common/clock';
import { Random } from './common/random';
import { ContextFitter } from './context/context-fitter';
import { ModelRegistry } from './context/model-registry';
import { Pricing } from './context/pricing';
import { TokenCounter } from './context/token-counter';
import { RedisConnection } from './limits/redis-connection';
import { KeyVerification } from './secrets/key-verification';
import { AiMetrics } from './telemetry/ai-metrics';
import { AlertEvaluator } from './telemetry/alert-evaluator';
import { AlertNotifier, LogAlertNotifier, WebhookAlertNotifier } from './telemetry/alert-notifier';
import { CallEvents } from './telemetry/call-events';
import { LedgerEvents } from './telemetry/ledger-events';
import { QuotaWatch } from './telemetry/quota-watch';
import { BreakerRegistry } from './upstream/breaker-registry';
import { ResilientUpstream } from './upstream/resilient-upstream';
import { RetryBudget } from './upstream/retry-budget';
import { UndiciUpstreamClient } from './upstream/undici-upstream.client';
import { UpstreamClient } from './upstream/upstream-client';
import { UpstreamPool } from './upstream/upstream-pool';
import { UpstreamPoolOptions } from './upstream/upstream-pool-options';

/** Options that would do nothing without a database, and are refused rather than ignored. */
const DATABASE_OPTIONS_NEEDED_BY = ['plans', 'redis', 'tenancy', 'jobs'] as const;

/** The options with their defaults, once it is checked that the module was defined for them (with a database or not). */
function resolveDefinedOptions(options: AiModuleOptions, withDatabase: boolean): ResolvedAiOptions {
  if (options.database && !withDatabase) throw new Error('AiModule.forRootAsync was given a `database` by its factory: define it with `withDatabase: true`');
  if (!options.database && withDatabase) throw new Error('AiModule was defined `withDatabase: true`, but its options have no `database`');
  const needingDatabase = DATABASE_OPTIONS_NEEDED_BY.filter((option) => options[option] !== undefined);
  if (!options.database && needingDatabase.length > 0) {
    throw new Error(`AiModule's ${needingDatabase.join(', ')} apply to tenants, whose limits, quotas and jobs are kept in the database: give it a \`database\``);
  }
  return resolveAiOptions(options);
}

/** Every key is read before anything can call the upstream: no key, no start. */
async function loadUpstreamPool(
  options: UpstreamPoolOptions,
  secrets: SecretOptions,
  breaker: BreakerOptions,
  clock: Clock,
  events: UpstreamEvents,
): Promise<UpstreamPool> {
  const pool = new UpstreamPool(options, secrets, breaker, clock, events);
  await pool.load();
  return pool;
}

function alertNotifierFrom({ webhookUrl }: AlertOptions): AlertNotifier {
  return webhookUrl ? new WebhookAlertNotifier(webhookUrl) : new LogAlertNotifier();
}

async function connectRedis(redis: ResolvedAiOptions['redis']): Promise<RedisConnection> {
  const connection = new RedisConnection(redis);
  await connection.ready();
  return connection;
}

/**
 * `imports: [AiModule.forRoot({ upstream: { apiKey } })]` or `AiModule.forRootAsync({ inject, useFactory })`,
 * then inject `AiService`. Pass `isGlobal: true` to use it from every module. These are the resilient client's
 * providers; with a `database`, AiModuleDefinition adds the tenancy's (tenancy/tenancy.providers.ts).
 */
@Module({
  providers: [
    { provide: RESOLVED_AI_OPTIONS, useFactory: resolveDefinedOptions, inject: [MODULE_OPTIONS_TOKEN, WITH_DATABASE] },
    ...OPTION_SLICE_PROVIDERS,
    { provide: Clock, useClass: SystemClock },
    { provide: Random, useValue: () => Math.random() },
    { provide: UpstreamClient, useFactory: (timeouts: TimeoutOptions) => new UndiciUpstreamClient(timeouts), inject: [TIMEOUT_OPTIONS] },
    {
      provide: UpstreamPool,
      useFactory: loadUpstreamPool,
      inject: [UPSTREAM_POOL_OPTIONS, SECRET_OPTIONS, BREAKER_OPTIONS, Clock, UpstreamEvents],
    },
    KeyVerification,
    AiMetrics,
    CallEvents,
    UpstreamEvents,
    JobEvents,
    LedgerEvents,
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
    ChatPipeline,
    EmbeddingsPipeline,
    ResponsesPipeline,
    AiService,
    AiLifecycle,
  ],
  exports: [
    AiService,
    BreakerRegistry,
    RetryBudget,
    RedisConnection,
    UpstreamPool,
    KeyVerification,
    AiMetrics,
    AlertEvaluator,
    CallEvents,
    Clock,
  ],
})
export class AiModule extends ConfigurableModuleClass {
  /** With a `database` in its options, the module brings tenancy (see AiModuleOptions.database). */
  static override forRoot(options: typeof OPTIONS_TYPE): DynamicModule {
    return super.forRoot({ ...options, withDatabase: options.withDatabase ?? options.database !== undefined });
  }
}

export type { AiModuleOptions };
