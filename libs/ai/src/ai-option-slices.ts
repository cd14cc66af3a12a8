import { Provider } from '@nestjs/common';
import type { ResolvedAiOptions } from './ai-module-options';

/*
 * One token per key of the resolved options, so that each class injects only the slices it reads.
 * `resolveAiOptions` stays the one place defaults are filled in; the module cuts its result into slices.
 */

/** The options with every default filled in. */
export const RESOLVED_AI_OPTIONS = Symbol('ResolvedAiOptions');
/** `boolean`: whether the module was defined with a database (the extra `withDatabase`). */
export const WITH_DATABASE = Symbol('WithDatabase');

/** `UpstreamPoolOptions`: the upstreams, their keys and the routes. */
export const UPSTREAM_POOL_OPTIONS = Symbol('UpstreamPoolOptions');
/** `DatabaseOptions` */
export const DATABASE_OPTIONS = Symbol('DatabaseOptions');
/** `RedisOptions | undefined`: undefined when limits and jobs stay in-process. */
export const REDIS_OPTIONS = Symbol('RedisOptions');
/** `Record<string, TenantLimits>`: every plan complete, `default` included. */
export const PLANS = Symbol('Plans');
/** `Record<string, ModelInfo>`: the model table, defaults merged in. */
export const MODELS = Symbol('Models');
/** `TenancyOptions` */
export const TENANCY_OPTIONS = Symbol('TenancyOptions');
/** `LedgerRetentionOptions` */
export const LEDGER_RETENTION_OPTIONS = Symbol('LedgerRetentionOptions');
/** `SecretOptions` */
export const SECRET_OPTIONS = Symbol('SecretOptions');
/** `string`: the model that writes summaries. */
export const SUMMARY_MODEL = Symbol('SummaryModel');
/** `TelemetryOptions` */
export const TELEMETRY_OPTIONS = Symbol('TelemetryOptions');
/** `AlertOptions` */
export const ALERT_OPTIONS = Symbol('AlertOptions');
/** `JobsOptions` */
export const JOBS_OPTIONS = Symbol('JobsOptions');
/** `TimeoutOptions` */
export const TIMEOUT_OPTIONS = Symbol('TimeoutOptions');
/** `RetryOptions` */
export const RETRY_OPTIONS = Symbol('RetryOptions');
/** `RetryBudgetOptions` */
export const RETRY_BUDGET_OPTIONS = Symbol('RetryBudgetOptions');
/** `BreakerOptions` */
export const BREAKER_OPTIONS = Symbol('BreakerOptions');
/** `Record<string, string[]>`: the module-wide fallback chains. */
export const FALLBACK_MODELS = Symbol('FallbackModels');

/** `satisfies` makes a new key of the resolved options fail to compile until it has its token. */
const SLICE_TOKENS = {
  upstreams: UPSTREAM_POOL_OPTIONS,
  database: DATABASE_OPTIONS,
  redis: REDIS_OPTIONS,
  plans: PLANS,
  models: MODELS,
  tenancy: TENANCY_OPTIONS,
  ledgerRetention: LEDGER_RETENTION_OPTIONS,
  secrets: SECRET_OPTIONS,
  summaryModel: SUMMARY_MODEL,
  telemetry: TELEMETRY_OPTIONS,
  alerts: ALERT_OPTIONS,
  jobs: JOBS_OPTIONS,
  timeouts: TIMEOUT_OPTIONS,
  retry: RETRY_OPTIONS,
  retryBudget: RETRY_BUDGET_OPTIONS,
  breaker: BREAKER_OPTIONS,
  fallbackModels: FALLBACK_MODELS,
} satisfies Record<keyof ResolvedAiOptions, symbol>;

export const OPTION_SLICE_PROVIDERS: Provider[] = Object.entries(SLICE_TOKENS).map(([key, token]) => ({
  provide: token,
  useFactory: (options: ResolvedAiOptions) => options[key as keyof ResolvedAiOptions],
  inject: [RESOLVED_AI_OPTIONS],
}));
