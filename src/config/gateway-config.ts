import type { AiModuleOptions } from '@tollgate/ai';
import { randomBytes } from 'node:crypto';
import { Catalogs, loadCatalogs } from './catalog-files';
import { EnvironmentVariables, validateEnvironment } from './environment';
import { loadUpstreamsFile, UpstreamsFile } from './upstreams-file';
import { devCredentialsPath, readDevCredentials } from '../demo/dev-credentials';
import type { HttpServerLimits } from '../http/http-server';
import type { LogFormat } from '../logging/log-format';
import { toOpenAiError } from '../http/openai-error';

export interface GatewayConfig {
  production: boolean;
  port: number;
  upstream: {
    baseURL: string;
    /** Where the upstream key comes from; `undefined` outside production means the built-in simulator. */
    secret?: SecretSource;
  };
  /** `config/upstreams.yaml`: several upstreams and keys, in place of `upstream`. */
  upstreamsFile?: UpstreamsFile;
  /** ADMIN_TOKEN, or outside production one Tollgate generated (`adminTokenGenerated`): in development the one `devCredentialsFile` keeps. */
  adminToken: string;
  adminTokenGenerated: boolean;
  /** With NODE_ENV=development and a database kept on disk only: the data directory's file that keeps the admin token and the demo key between starts. */
  devCredentialsFile?: string;
  /** METRICS_TOKEN: the bearer token GET /metrics asks for; undefined (outside production only) leaves it open. */
  metricsToken?: string;
  /** CONSOLE_ENABLED: whether /console serves the admin console. */
  consoleEnabled: boolean;
  /** DOCS_ENABLED: whether /docs and /docs-json serve the OpenAPI document. */
  docsEnabled: boolean;
  databaseUrl: string;
  redisUrl?: string;
  statusUrl: string;
  /** MAX_BODY_BYTES: the largest request body the gateway reads. */
  maxBodyBytes: number;
  /** HTTP_*: what slow or idle clients may hold of the server. */
  http: HttpServerLimits;
  logLevel: string;
  /** LOG_FORMAT: how stdout's lines read. */
  logFormat: LogFormat;
  /** SHUTDOWN_READINESS_DELAY_MS: how long readiness fails before the server closes on SIGTERM or SIGINT. */
  shutdownReadinessDelayMs: number;
  /** Everything AiModule takes besides the upstream. */
  policies: Omit<AiModuleOptions, 'upstream'>;
  catalogs: Catalogs;
}

/** How to read the upstream key, as AI_SECRET_PROVIDER and its variables say. */
export type SecretSource =
  | { provider: 'env'; apiKey: string }
  | { provider: 'file'; path: string }
  | { provider: 'aws'; secretId: string; region: string; jsonKey?: string; endpoint?: string }
  | { provider: 'azure'; vaultUrl: string; secretName: string };

/** The key under which ConfigService holds the GatewayConfig. */
export const GATEWAY_CONFIG = 'gateway';

export function loadGatewayConfig(env: Record<string, string | undefined>): GatewayConfig {
  const vars = validateEnvironment(env);
  const catalogs = loadCatalogs(vars.CONFIG_DIR);
  const devCredentialsFile = vars.NODE_ENV === 'development' ? devCredentialsPath(vars.DATABASE_URL) : undefined;
  const kept = devCredentialsFile ? readDevCredentials(devCredentialsFile) : {};
  return {
    production: vars.NODE_ENV === 'production',
    port: vars.PORT,
    upstream: { baseURL: vars.OPENAI_BASE_URL, secret: secretSourceFrom(vars) },
    upstreamsFile: loadUpstreamsFile(vars.CONFIG_DIR, env),
    // Validation has already stopped a production start without ADMIN_TOKEN; a development restart keeps the one it generated.
    adminToken: vars.ADMIN_TOKEN ?? kept.adminToken ?? randomBytes(24).toString('base64url'),
    adminTokenGenerated: !vars.ADMIN_TOKEN,
    devCredentialsFile,
    metricsToken: vars.METRICS_TOKEN,
    consoleEnabled: (vars.CONSOLE_ENABLED ?? String(vars.NODE_ENV !== 'production')) === 'true',
    docsEnabled: (vars.DOCS_ENABLED ?? String(vars.NODE_ENV !== 'production')) === 'true',
    databaseUrl: vars.DATABASE_URL,
    redisUrl: vars.REDIS_URL,
    statusUrl: vars.OPENAI_STATUS_URL,
    maxBodyBytes: vars.MAX_BODY_BYTES,
    http: {
      headersTimeoutMs: vars.HTTP_HEADERS_TIMEOUT_MS,
      requestTimeoutMs: vars.HTTP_REQUEST_TIMEOUT_MS,
      keepAliveTimeoutMs: vars.HTTP_KEEP_ALIVE_TIMEOUT_MS,
      maxConnections: vars.HTTP_MAX_CONNECTIONS,
    },
    logLevel: vars.LOG_LEVEL,
    logFormat: vars.LOG_FORMAT ?? (vars.NODE_ENV === 'production' ? 'json' : 'pretty'),
    shutdownReadinessDelayMs: vars.SHUTDOWN_READINESS_DELAY_MS ?? (vars.NODE_ENV === 'production' ? 5_000 : 0),
    policies: policiesFrom(vars, catalogs),
    catalogs,
  };
}

function policiesFrom(vars: EnvironmentVariables, catalogs: Catalogs): GatewayConfig['policies'] {
  return {
    database: { url: vars.DATABASE_URL, tablePrefix: vars.DATABASE_TABLE_PREFIX },
    redis: vars.REDIS_URL ? { url: vars.REDIS_URL, keyPrefix: vars.REDIS_PREFIX } : undefined,
    plans: catalogs.plans,
    models: catalogs.models,
    // Tenants exist only through the admin API: a key always names one.
    tenancy: { autoProvision: false, keyCacheTtlMs: vars.AI_KEY_CACHE_TTL_MS },
    ledgerRetention: { retentionDays: vars.AI_LEDGER_RETENTION_DAYS, rollupRetentionDays: vars.AI_LEDGER_ROLLUP_RETENTION_DAYS },
    secrets: {
      ttlMs: vars.AI_SECRET_TTL_MS,
      verifyOnStart: (vars.AI_VERIFY_KEY_ON_START ?? String(vars.NODE_ENV === 'production')) === 'true',
      requireVerifiedKey: vars.AI_REQUIRE_VERIFIED_KEY === 'true',
    },
    timeouts: {
      connectMs: vars.AI_CONNECT_TIMEOUT_MS,
      firstByteMs: vars.AI_FIRST_BYTE_TIMEOUT_MS,
      streamIdleMs: vars.AI_STREAM_IDLE_TIMEOUT_MS,
      totalMs: vars.AI_TOTAL_TIMEOUT_MS,
    },
    retry: { maxAttempts: vars.AI_RETRY_MAX_ATTEMPTS, baseDelayMs: vars.AI_RETRY_BASE_DELAY_MS },
    retryBudget: { ratio: vars.AI_RETRY_BUDGET_RATIO, minRetriesPerSecond: vars.AI_RETRY_BUDGET_MIN_PER_SECOND },
    breaker: {
      errorThresholdPercentage: vars.AI_BREAKER_ERROR_PERCENT,
      volumeThreshold: vars.AI_BREAKER_MIN_VOLUME,
      resetTimeoutMs: vars.AI_BREAKER_RESET_MS,
    },
    fallbackModels: parseFallbackModels(vars.AI_FALLBACK_MODELS),
    jobs: {
      enabled: vars.AI_JOBS_ENABLED === undefined ? undefined : vars.AI_JOBS_ENABLED === 'true',
      concurrency: vars.AI_JOBS_CONCURRENCY,
      tenantConcurrency: vars.AI_JOBS_TENANT_CONCURRENCY,
      maxUnfinishedPerTenant: vars.AI_JOBS_MAX_UNFINISHED_PER_TENANT,
      retentionMs: vars.AI_JOBS_RETENTION_MS,
      pollIntervalMs: vars.AI_JOBS_POLL_INTERVAL_MS,
      leaseMs: vars.AI_JOBS_LEASE_MS,
      shutdownGraceMs: vars.AI_JOBS_SHUTDOWN_GRACE_MS,
      webhookAllowedHosts: vars.AI_JOBS_WEBHOOK_ALLOWED_HOSTS?.split(',').map((host) => host.trim()),
      webhookAllowedPorts: vars.AI_JOBS_WEBHOOK_ALLOWED_PORTS?.split(',').map(Number),
      webhookAllowHttp: vars.AI_JOBS_WEBHOOK_ALLOW_HTTP === undefined ? undefined : vars.AI_JOBS_WEBHOOK_ALLOW_HTTP === 'true',
      webhookAllowPrivateAddresses: vars.AI_JOBS_WEBHOOK_ALLOW_PRIVATE_ADDRESSES === undefined ? undefined : vars.AI_JOBS_WEBHOOK_ALLOW_PRIVATE_ADDRESSES === 'true',
      webhookSecret: vars.AI_JOBS_WEBHOOK_SECRET,
      queuePrefix: vars.AI_JOBS_QUEUE_PREFIX,
      // A job's error reads exactly as the same failure would have over HTTP.
      describeError: (error, jobId) => toOpenAiError(error, jobId).body.error,
    },
    telemetry: { maxTenantLabels: vars.AI_MAX_TENANT_LABELS },
    alerts: { rules: catalogs.alertRules, webhookUrl: vars.ALERT_WEBHOOK_URL, evaluationIntervalMs: vars.ALERT_EVALUATION_INTERVAL_MS },
  };
}

function secretSourceFrom(vars: EnvironmentVariables): SecretSource | undefined {
  switch (vars.AI_SECRET_PROVIDER) {
    case 'env':
      return vars.OPENAI_API_KEY ? { provider: 'env', apiKey: vars.OPENAI_API_KEY } : undefined;
    case 'file':
      return { provider: 'file', path: vars.OPENAI_API_KEY_FILE! };
    case 'aws':
      return {
        provider: 'aws',
        secretId: vars.AWS_SECRET_ID!,
        region: vars.AWS_REGION!,
        jsonKey: vars.AWS_SECRET_JSON_KEY,
        endpoint: vars.AWS_SECRETS_MANAGER_ENDPOINT,
      };
    case 'azure':
      return { provider: 'azure', vaultUrl: vars.AZURE_KEY_VAULT_URL!, secretName: vars.AZURE_KEY_VAULT_SECRET_NAME! };
  }
}

/** "gpt-4o=gpt-4o-mini,gpt-4.1-mini;o4-mini=gpt-4o-mini" → { 'gpt-4o': ['gpt-4o-mini', 'gpt-4.1-mini'], … } */
export function parseFallbackModels(value: string | undefined): Record<string, string[]> {
  if (!value) return {};
  const entries = value
    .split(';')
    .filter(Boolean)
    .map((rule) => {
      const [model, fallbacks] = rule.split('=');
      return [model, fallbacks.split(',')] as const;
    });
  return Object.fromEntries(entries);
}
