import type { SecretProvider } from './secrets/secret-provider';
import { AlertRule, assertValidAlertRules, DEFAULT_ALERT_RULES } from './telemetry/alert-rules';
import { DEFAULT_MODELS } from './context/default-models';
import type { ModelInfo } from './context/model-info';
import { DEFAULT_PLAN, TenantLimits, UNLIMITED } from './tenancy/tenant-limits';
import { PoolUpstreamOptions, resolveUpstreamPool, UpstreamPoolOptions } from './upstream/upstream-pool-options';

/** Where and how to reach the OpenAI-compatible upstream. */
export interface UpstreamOptions {
  /**
   * Base URL of any OpenAI-compatible API.
   * @default 'https://api.openai.com/v1'
   */
  baseURL?: string;
  /** A fixed upstream API key. Give this or `secretProvider`. */
  apiKey?: string;
  /** Where to read the key from, so that it can rotate without a restart (file, AWS, Azure providers). */
  secretProvider?: SecretProvider;
  /** Sent as `OpenAI-Organization` when set. @default undefined */
  organization?: string;
}

/** Time limits. A request may ask for a shorter deadline, never a longer one. */
export interface TimeoutOptions {
  /** TCP/TLS connection set-up. @default 10_000 */
  connectMs: number;
  /**
   * Until the upstream's first byte: response headers for a stream, the whole answer
   * otherwise (OpenAI sends a non-streamed answer at once). @default 60_000
   */
  firstByteMs: number;
  /** Longest silence between two chunks of a stream. @default 30_000 */
  streamIdleMs: number;
  /** The whole call, retries and fallbacks included; for a stream, until its first chunk. @default 120_000 */
  totalMs: number;
}

export interface RetryOptions {
  /** Upstream attempts per model, the first one included. @default 3 */
  maxAttempts: number;
  /** Backoff base: attempt n waits a random time in [0, min(maxDelayMs, baseDelayMs·2^(n-1))). @default 500 */
  baseDelayMs: number;
  /** Backoff cap. @default 8_000 */
  maxDelayMs: number;
  /** The longest upstream `retry-after` Tollgate will wait; a longer one fails the call at once with that Retry-After. @default 60_000 */
  maxRetryAfterMs: number;
}

/** Limits retries to a fraction of recent traffic, so that an outage never multiplies upstream load. */
export interface RetryBudgetOptions {
  /** Retries allowed per request in the window. @default 0.1 */
  ratio: number;
  /** Retries allowed regardless of traffic, so that a quiet service can still retry. @default 0.5 */
  minRetriesPerSecond: number;
  /** The sliding window requests and retries are counted over. @default 10_000 */
  windowMs: number;
}

/** One opossum breaker per upstream and model. */
export interface BreakerOptions {
  /** Opens when the failure percentage in the window is above this. @default 50 */
  errorThresholdPercentage: number;
  /** Calls needed in the window before it may open. @default 10 */
  volumeThreshold: number;
  /** The rolling window the failure percentage is computed over. @default 10_000 */
  windowMs: number;
  /** How long it stays open before letting one probe call through. @default 30_000 */
  resetTimeoutMs: number;
}

export type { ImageTokenRule, ModelInfo, PatchImageTokens, TileImageTokens, TokenEncoding } from './context/model-info';

export interface SecretOptions {
  /** How long a read key is trusted; it is re-read in the background at 80% of this. @default 300_000 */
  ttlMs: number;
  /** At start-up, one cheap authenticated call (GET /models) says in the log whether the upstream accepts the key. @default false */
  verifyOnStart: boolean;
  /**
   * Stop the start (`KeyRefusedAtStartError`, naming where each key is read from) when the upstream refuses a key
   * at start-up, or it answers for another account than the key's `expect`; implies `verifyOnStart`. An upstream
   * that cannot be asked (down, slow) does not stop it: a deploy must not depend on the upstream's health. @default false
   */
  requireVerifiedKey: boolean;
}

export interface TelemetryOptions {
  /** Tenants that get a metric label of their own; later ones are counted as `other`. @default 50 */
  maxTenantLabels: number;
}

export interface AlertOptions {
  /**
   * The rules evaluated in-process; `[]` turns the evaluator off.
   * @default DEFAULT_ALERT_RULES (the twins of config/prometheus/alerts.yml) with a database, [] without one
   */
  rules: AlertRule[];
  /** A Slack-compatible incoming webhook that gets each alert once when it fires and once when it resolves. @default none: alerts are logged */
  webhookUrl?: string;
  /** How often the rules are evaluated. @default 15_000 */
  evaluationIntervalMs: number;
}

/** A job's failure in OpenAI's error shape, as `GET /v1/async/jobs/:id` shows it. */
export interface JobErrorFields {
  message: string;
  type: string;
  code: string | null;
  param: string | null;
}

/**
 * Asynchronous chat jobs (`AiService.submit()`): on BullMQ when `redis` is set, in a database
 * table otherwise; either way the job's record, result and lease live in the database.
 */
export interface JobsOptions {
  /** Run queued jobs in this process. A replica with it off still accepts jobs, for the others to run. @default true */
  enabled: boolean;
  /** Jobs this process runs at once. @default 8 */
  concurrency: number;
  /** Jobs of one tenant running at once, across replicas, so that one tenant cannot take every worker. @default 2 */
  tenantConcurrency: number;
  /** How long a finished job, its completion or its error, can still be read. @default 86_400_000 (a day) */
  retentionMs: number;
  /** How often the database queue looks for work (a submit in this process wakes it at once). @default 1_000 */
  pollIntervalMs: number;
  /** A running job's lease, renewed while it runs: a job whose process died runs again once it expires. @default 30_000 */
  leaseMs: number;
  /** Runs of one job, rate-limit deferrals included, before it fails with its last error. @default 10 */
  maxRuns: number;
  /** A tenant's jobs queued or running at once; a submit beyond is a 429 `too_many_jobs`. @default 1_000 */
  maxUnfinishedPerTenant: number;
  /** On shutdown, how long running jobs may finish before they are put back in the queue. @default 10_000 */
  shutdownGraceMs: number;
  /** Hosts webhooks may be sent to: `hooks.example.com`, or `*.example.com` for its subdomains. @default [] (no webhooks) */
  webhookAllowedHosts: string[];
  /** Ports webhooks may be sent to; a URL without one uses its scheme's (443 for https). @default [443] */
  webhookAllowedPorts: number[];
  /** Send webhooks over plain `http:` too; off, a webhook URL must be `https:`. @default false */
  webhookAllowHttp: boolean;
  /**
   * Send webhooks to loopback, link-local, private, unique-local, unspecified or reserved addresses.
   * Off, a host that resolves to any such address is refused at delivery, so that an allowed name
   * cannot be pointed at the gateway's own network. @default false
   */
  webhookAllowPrivateAddresses: boolean;
  /** The key every webhook is signed with (HMAC-SHA256); without it webhooks are refused. @default undefined */
  webhookSecret?: string;
  /** Deliveries tried per webhook, with full-jitter exponential backoff between them. @default 5 */
  webhookMaxAttempts: number;
  /** @default 1_000 */
  webhookBaseDelayMs: number;
  /** @default 60_000 */
  webhookMaxDelayMs: number;
  /** One delivery's time limit. @default 10_000 */
  webhookTimeoutMs: number;
  /** BullMQ's key prefix on Redis. @default the Redis key prefix without its last ':' ('tollgate') */
  queuePrefix: string;
  /**
   * How a job's failure is recorded. The gateway passes its HTTP error mapping, so that a job's
   * error reads exactly as the same failure would over HTTP. @default the error's code, message and param
   */
  describeError?: (error: unknown, jobId: string) => JobErrorFields;
}

export interface TenancyOptions {
  /**
   * Create an unknown tenant on its first call, with the `default` plan. Convenient for a
   * library whose callers are its own tenants; the gateway turns it off. @default true
   */
  autoProvision: boolean;
  /** How long a key lookup is cached: a revoked key stops working within this. @default 5_000 */
  keyCacheTtlMs: number;
  /** A reservation not settled within this (its process died) is released. @default 300_000 */
  reservationTtlMs: number;
  /** How often expired reservations are looked for. @default 30_000 */
  sweepIntervalMs: number;
  /** Ledger rows are written in batches: at most this many, at least this often. @default 200, 1_000 */
  ledgerBatchSize: number;
  ledgerFlushIntervalMs: number;
  /**
   * A replica admits calls from a lease of each tenant's quota (see QuotaLeases); a lease no call has used for this
   * long goes back, so that other replicas can have its budget. @default 10_000
   */
  leaseIdleMs: number;
}

/**
 * How long the usage ledger keeps each call's row (LedgerRetention). Every UTC day, once it is closed, is rolled up
 * into daily totals by tenant, model, key and endpoint (`usage_rollups`), from which usage reports read it; its rows
 * are deleted once `retentionDays` whole UTC days have passed since it ended.
 */
export interface LedgerRetentionOptions {
  /**
   * A rolled-up UTC day's ledger rows are deleted once this many whole UTC days have passed since it ended: the rows
   * of today and of the `retentionDays` days before it are kept. @default 35
   */
  retentionDays: number;
  /** The same for the roll-ups, at least `retentionDays`. @default null: kept forever */
  rollupRetentionDays: number | null;
  /**
   * How long after a UTC day ends it may be rolled up: room for clocks that disagree. A day is rolled up only once no
   * reservation admitted in it is still open, however late its call settles. @default 3_600_000
   */
  settleMarginMs: number;
  /** How often each replica rolls up closed days and deletes what is past retention (the first time a minute after start). @default 3_600_000 */
  intervalMs: number;
  /** Ledger rows deleted per statement, each its own transaction. @default 5_000 */
  pruneBatchSize: number;
}

/** Keep the ledger rows five weeks, the roll-ups forever. */
export const LEDGER_RETENTION_DEFAULTS: LedgerRetentionOptions = {
  retentionDays: 35,
  rollupRetentionDays: null,
  settleMarginMs: 3_600_000,
  intervalMs: 3_600_000,
  pruneBatchSize: 5_000,
};

export interface AiModuleOptions {
  /** One upstream with one key. Give this or `upstreams`. */
  upstream?: UpstreamOptions;
  /**
   * Several upstreams (OpenAI, Azure OpenAI, compatible hosts), each with one or more keys: a call goes to a
   * healthy key of the first upstream of its route that can take it, and moves on when a key is rate limited,
   * out of credit or answering for the wrong account. Give this or `upstream`.
   */
  upstreams?: PoolUpstreamOptions[];
  /** With `upstreams`: the upstreams that serve each model, in order. @default every model on every upstream, in the order listed */
  routes?: Record<string, string[]>;
  /**
   * Where tenants, keys, quotas, the usage ledger and jobs live: `sqlite:<file>`, `sqlite::memory:` or
   * `postgres://…` (install `typeorm` and `better-sqlite3` or `pg`). Its tables are named with `tablePrefix`
   * (its migrations table too), so that they can live beside an application's own; migrations run at
   * start-up unless `migrate` is false. Without it there is no tenancy: every call is admitted, no limit,
   * quota or ledger applies, and nothing is polled or swept. With `forRootAsync`, say `withDatabase: true`.
   * @default undefined; tablePrefix 'tollgate_', migrate true
   */
  database?: { url: string; migrate?: boolean; tablePrefix?: string };
  /**
   * Redis for limits shared across replicas (`redis://…`), and its keys' prefix, so that two deployments can share
   * one Redis (BullMQ's keys take it too, unless `jobs.queuePrefix` is set). @default undefined: in-process limits
   */
  redis?: { url: string; keyPrefix?: string };
  /** Quota plans by name; a tenant without a plan gets `default`. @default { default: DEFAULT_PLAN } */
  plans?: Record<string, Partial<TenantLimits>>;
  /**
   * Sizes and prices by model, over the library's `DEFAULT_MODELS`: a model listed here replaces its default entry
   * whole, and the other defaults stay. A model the table does not list is refused unless the tenant's plan has
   * `allowUnknownModels`, and is then priced as the dearest listed. @default {} (`DEFAULT_MODELS` as shipped)
   */
  models?: Record<string, ModelInfo>;
  /**
   * Whether the model table starts from `DEFAULT_MODELS` (OpenAI's models at their list prices); `false` leaves
   * `models` alone in it. @default true
   */
  modelDefaults?: boolean;
  /** @default see TenancyOptions */
  tenancy?: Partial<TenancyOptions>;
  /** @default see LedgerRetentionOptions */
  ledgerRetention?: Partial<LedgerRetentionOptions>;
  /** @default see SecretOptions */
  secrets?: Partial<SecretOptions>;
  /** The cheap model that writes summaries under the `summarize` context policy. @default 'gpt-4o-mini' */
  summaryModel?: string;
  /** @default { maxTenantLabels: 50 } */
  telemetry?: Partial<TelemetryOptions>;
  /** @default see AlertOptions */
  alerts?: Partial<AlertOptions>;
  /** @default see JobsOptions */
  jobs?: Partial<JobsOptions>;
  /** @default see TimeoutOptions */
  timeouts?: Partial<TimeoutOptions>;
  /** @default see RetryOptions */
  retry?: Partial<RetryOptions>;
  /** @default see RetryBudgetOptions */
  retryBudget?: Partial<RetryBudgetOptions>;
  /** @default see BreakerOptions */
  breaker?: Partial<BreakerOptions>;
  /**
   * Models to try, in order, when a model is unavailable, unknown or its breaker is open,
   * e.g. `{ 'gpt-4o': ['gpt-4o-mini'] }`. @default {}
   */
  fallbackModels?: Record<string, string[]>;
}

/** The name of the upstream given as `upstream` (one upstream, one key). */
export const SINGLE_UPSTREAM_NAME = 'openai';

/** `upstream` is a pool of one upstream with one key; `upstreams` are checked whole. */
function resolveUpstreams({ upstream, upstreams, routes }: AiModuleOptions): UpstreamPoolOptions {
  if (upstream && upstreams) throw new Error('AiModule takes `upstream` (one) or `upstreams` (a pool), not both');
  if (upstreams) return resolveUpstreamPool(upstreams, routes);
  if (routes) throw new Error('AiModule `routes` choose among `upstreams`, which are not given');
  if (!upstream) throw new Error('AiModule needs `upstream` (or `upstreams`)');
  const { baseURL = DEFAULT_BASE_URL, apiKey, secretProvider, organization } = upstream;
  if (apiKey === undefined && secretProvider === undefined) throw new Error('AiModule needs upstream.apiKey or upstream.secretProvider');
  return resolveUpstreamPool([{ name: SINGLE_UPSTREAM_NAME, kind: 'openai', baseURL, organization, keys: [{ apiKey, secretProvider }] }]);
}

export interface DatabaseOptions {
  url: string;
  migrate: boolean;
  tablePrefix: string;
}

/**
 * Table names are written into SQL statements unquoted, where PostgreSQL folds them to lower case: a prefix is
 * lower-case letters, digits and underscores, starting with a letter or an underscore (or empty).
 */
const TABLE_PREFIX_PATTERN = /^([a-z_][a-z0-9_]*)?$/;

const DEFAULT_TABLE_PREFIX = 'tollgate_';

function resolveDatabase(database: AiModuleOptions['database']): DatabaseOptions | undefined {
  if (database === undefined) return undefined;
  const tablePrefix = database.tablePrefix ?? DEFAULT_TABLE_PREFIX;
  if (!TABLE_PREFIX_PATTERN.test(tablePrefix)) throw new Error(`database.tablePrefix must be lower-case letters, digits and underscores, starting with a letter or _, not '${tablePrefix}'`);
  return { url: database.url, migrate: database.migrate ?? true, tablePrefix };
}

export interface RedisOptions {
  url: string;
  /** Before every key of the limits. @default 'tollgate:' */
  keyPrefix: string;
}

export interface ResolvedAiOptions {
  upstreams: UpstreamPoolOptions;
  /** Absent: no tenancy (see AiModuleOptions.database). */
  database?: DatabaseOptions;
  redis?: RedisOptions;
  plans: Record<string, TenantLimits>;
  models: Record<string, ModelInfo>;
  tenancy: TenancyOptions;
  ledgerRetention: LedgerRetentionOptions;
  secrets: SecretOptions;
  summaryModel: string;
  telemetry: TelemetryOptions;
  alerts: AlertOptions;
  jobs: JobsOptions;
  timeouts: TimeoutOptions;
  retry: RetryOptions;
  retryBudget: RetryBudgetOptions;
  breaker: BreakerOptions;
  fallbackModels: Record<string, string[]>;
}

export const DEFAULT_BASE_URL = 'https://api.openai.com/v1';

/** Every plan is complete (unset limits are none), and `default` always exists. */
function resolvePlans(plans: Record<string, Partial<TenantLimits>> = {}): Record<string, TenantLimits> {
  const complete = Object.entries(plans).map(([name, limits]) => [name, { ...UNLIMITED, ...limits }] as const);
  return byName([['default', DEFAULT_PLAN], ...complete]);
}

/** A map without a prototype, so that looking up `constructor` or `__proto__` finds nothing nobody listed. */
function byName<T>(entries: Iterable<readonly [string, T]>): Record<string, T> {
  const map = Object.create(null) as Record<string, T>;
  for (const [name, value] of entries) map[name] = value;
  return map;
}

/** Overrides that are `undefined` keep the default, so a caller can pass optional config through as is. */
function withDefaults<T extends object>(defaults: T, overrides: Partial<T> = {}): T {
  const defined = Object.entries(overrides).filter(([, value]) => value !== undefined);
  return { ...defaults, ...Object.fromEntries(defined) };
}

function secretOptionsOf(options: Partial<SecretOptions> | undefined): SecretOptions {
  const secrets = withDefaults({ ttlMs: 300_000, verifyOnStart: false, requireVerifiedKey: false }, options);
  return { ...secrets, verifyOnStart: secrets.verifyOnStart || secrets.requireVerifiedKey };
}

/** The user's models replace the defaults of the same name, whole: a partial entry would mix two price lists. */
function resolveModels({ models = {}, modelDefaults = true }: Pick<AiModuleOptions, 'models' | 'modelDefaults'>): Record<string, ModelInfo> {
  return byName([...(modelDefaults ? Object.entries(DEFAULT_MODELS) : []), ...Object.entries(models)]);
}

function resolveLedgerRetention(options: Partial<LedgerRetentionOptions> | undefined): LedgerRetentionOptions {
  const retention = withDefaults(LEDGER_RETENTION_DEFAULTS, options);
  const { retentionDays, rollupRetentionDays } = retention;
  if (!Number.isInteger(retentionDays) || retentionDays < 1) throw new Error(`ledgerRetention.retentionDays must be a whole number of days, at least 1, not ${retentionDays}`);
  // Days whose roll-ups are gone while their rows remain would read as empty: the reports take a rolled-up day from its roll-ups.
  if (rollupRetentionDays !== null && (!Number.isInteger(rollupRetentionDays) || rollupRetentionDays < retentionDays)) {
    throw new Error(`ledgerRetention.rollupRetentionDays must be null (forever) or a whole number of days, at least retentionDays (${retentionDays}), not ${rollupRetentionDays}`);
  }
  return retention;
}

function resolveAlerts(options: Partial<AlertOptions> | undefined, withDatabase: boolean): AlertOptions {
  const alerts = withDefaults({ rules: withDatabase ? [...DEFAULT_ALERT_RULES] : [], evaluationIntervalMs: 15_000 }, options);
  assertValidAlertRules(alerts.rules);
  return alerts;
}

const DEFAULT_REDIS_PREFIX = 'tollgate:';

export function resolveAiOptions(options: AiModuleOptions): ResolvedAiOptions {
  return {
    upstreams: resolveUpstreams(options),
    database: resolveDatabase(options.database),
    redis: options.redis && { url: options.redis.url, keyPrefix: options.redis.keyPrefix ?? DEFAULT_REDIS_PREFIX },
    plans: resolvePlans(options.plans),
    models: resolveModels(options),
    tenancy: withDefaults(
      {
        autoProvision: true,
        keyCacheTtlMs: 5_000,
        reservationTtlMs: 300_000,
        sweepIntervalMs: 30_000,
        ledgerBatchSize: 200,
        ledgerFlushIntervalMs: 1_000,
        leaseIdleMs: 10_000,
      },
      options.tenancy,
    ),
    ledgerRetention: resolveLedgerRetention(options.ledgerRetention),
    secrets: secretOptionsOf(options.secrets),
    summaryModel: options.summaryModel ?? 'gpt-4o-mini',
    telemetry: withDefaults({ maxTenantLabels: 50 }, options.telemetry),
    alerts: resolveAlerts(options.alerts, options.database !== undefined),
    jobs: withDefaults(
      {
        enabled: true,
        concurrency: 8,
        tenantConcurrency: 2,
        retentionMs: 86_400_000,
        pollIntervalMs: 1_000,
        leaseMs: 30_000,
        maxRuns: 10,
        maxUnfinishedPerTenant: 1_000,
        shutdownGraceMs: 10_000,
        webhookAllowedHosts: [] as string[],
        webhookAllowedPorts: [443],
        webhookAllowHttp: false,
        webhookAllowPrivateAddresses: false,
        webhookMaxAttempts: 5,
        webhookBaseDelayMs: 1_000,
        webhookMaxDelayMs: 60_000,
        webhookTimeoutMs: 10_000,
        // BullMQ adds its own ':' after the prefix.
        queuePrefix: (options.redis?.keyPrefix ?? DEFAULT_REDIS_PREFIX).replace(/:$/, ''),
      } as JobsOptions,
      options.jobs,
    ),
    timeouts: withDefaults({ connectMs: 10_000, firstByteMs: 60_000, streamIdleMs: 30_000, totalMs: 120_000 }, options.timeouts),
    retry: withDefaults({ maxAttempts: 3, baseDelayMs: 500, maxDelayMs: 8_000, maxRetryAfterMs: 60_000 }, options.retry),
    retryBudget: withDefaults({ ratio: 0.1, minRetriesPerSecond: 0.5, windowMs: 10_000 }, options.retryBudget),
    breaker: withDefaults(
      { errorThresholdPercentage: 50, volumeThreshold: 10, windowMs: 10_000, resetTimeoutMs: 30_000 },
      options.breaker,
    ),
    fallbackModels: byName(Object.entries(options.fallbackModels ?? {})),
  };
}
