import { plainToInstance, Transform, Type } from 'class-transformer';
import {
  IsIn,
  IsInt,
  IsNotEmpty,
  IsNumber,
  IsOptional,
  IsString,
  IsUrl,
  Matches,
  Max,
  Min,
  MinLength,
  ValidateIf,
  validateSync,
  ValidationError,
} from 'class-validator';
import { LEDGER_RETENTION_DEFAULTS } from '@tollgate/ai';
import { hasUpstreamsFile } from './upstreams-file';

export type SecretProviderName = 'env' | 'file' | 'aws' | 'azure';

const URL_OPTIONS = { require_tld: false, require_protocol: true, protocols: ['http', 'https'] };
/** incident.io's summary of OpenAI's status page; its Statuspage shim (`/api/v2/status.json`) is the fallback. */
const DEFAULT_STATUS_URL = 'https://status.openai.com/proxy/status.openai.com';

/** A TCP port, 1 to 65535, without leading zeros. */
const TCP_PORT = '([1-9]\\d{0,3}|[1-5]\\d{4}|6[0-4]\\d{3}|65[0-4]\\d{2}|655[0-2]\\d|6553[0-5])';

const trimmed = () => Transform(({ value }) => (typeof value === 'string' ? value.trim() || undefined : value));

/** The gateway's environment, exactly as DESIGN.md's configuration table names it. */
export class EnvironmentVariables {
  @IsIn(['development', 'production', 'test'])
  NODE_ENV: 'development' | 'production' | 'test' = 'development';

  @Type(() => Number) @IsInt() @Min(0) @Max(65535)
  PORT = 3000;

  @trimmed() @IsUrl(URL_OPTIONS)
  OPENAI_BASE_URL = 'https://api.openai.com/v1';

  @IsIn(['env', 'file', 'aws', 'azure'], { message: 'AI_SECRET_PROVIDER must be one of env, file, aws, azure' })
  AI_SECRET_PROVIDER: SecretProviderName = 'env';

  /** With AI_SECRET_PROVIDER=env. */
  @trimmed() @IsOptional() @IsString() @IsNotEmpty()
  OPENAI_API_KEY?: string;

  /** With AI_SECRET_PROVIDER=file: a mounted secret file holding the key. */
  @trimmed() @ValidateIf((vars: EnvironmentVariables) => vars.AI_SECRET_PROVIDER === 'file')
  @IsString({ message: 'OPENAI_API_KEY_FILE is required with AI_SECRET_PROVIDER=file: the path of the mounted key file' })
  OPENAI_API_KEY_FILE?: string;

  /** With AI_SECRET_PROVIDER=aws: the secret's name or ARN. */
  @trimmed() @ValidateIf((vars: EnvironmentVariables) => vars.AI_SECRET_PROVIDER === 'aws')
  @IsString({ message: 'AWS_SECRET_ID is required with AI_SECRET_PROVIDER=aws: the name or ARN of the secret' })
  AWS_SECRET_ID?: string;

  @trimmed() @ValidateIf((vars: EnvironmentVariables) => vars.AI_SECRET_PROVIDER === 'aws')
  @IsString({ message: 'AWS_REGION is required with AI_SECRET_PROVIDER=aws' })
  AWS_REGION?: string;

  /** The key inside a JSON secret, e.g. `apiKey`. */
  @trimmed() @IsOptional() @IsString()
  AWS_SECRET_JSON_KEY?: string;

  /** Another Secrets Manager endpoint (a VPC endpoint, an emulator). */
  @trimmed() @IsOptional() @IsUrl(URL_OPTIONS, { message: 'AWS_SECRETS_MANAGER_ENDPOINT must be an http(s) URL' })
  AWS_SECRETS_MANAGER_ENDPOINT?: string;

  /** With AI_SECRET_PROVIDER=azure: `https://<vault>.vault.azure.net`. */
  @trimmed() @ValidateIf((vars: EnvironmentVariables) => vars.AI_SECRET_PROVIDER === 'azure')
  @IsUrl({ ...URL_OPTIONS, protocols: ['https'] }, { message: 'AZURE_KEY_VAULT_URL is required with AI_SECRET_PROVIDER=azure: https://<vault>.vault.azure.net' })
  AZURE_KEY_VAULT_URL?: string;

  @trimmed() @ValidateIf((vars: EnvironmentVariables) => vars.AI_SECRET_PROVIDER === 'azure')
  @IsString({ message: 'AZURE_KEY_VAULT_SECRET_NAME is required with AI_SECRET_PROVIDER=azure' })
  AZURE_KEY_VAULT_SECRET_NAME?: string;

  /** How long a read key is trusted before it is re-read (at 80%). */
  @IsOptional() @Type(() => Number) @IsInt() @Min(1000)
  AI_SECRET_TTL_MS?: number;

  /** One authenticated GET /models at start-up to check the key; on by default in production. */
  @IsOptional() @IsIn(['true', 'false'], { message: 'AI_VERIFY_KEY_ON_START must be true or false' })
  AI_VERIFY_KEY_ON_START?: 'true' | 'false';

  /** Stop the start when the upstream refuses a key at start-up (or it answers for another account), naming where it is read from. */
  @IsOptional() @IsIn(['true', 'false'], { message: 'AI_REQUIRE_VERIFIED_KEY must be true or false' })
  AI_REQUIRE_VERIFIED_KEY?: 'true' | 'false';

  @trimmed() @IsOptional() @IsString() @MinLength(16, { message: 'ADMIN_TOKEN must be at least 16 characters long' })
  ADMIN_TOKEN?: string;

  /**
   * The bearer token Prometheus presents on GET /metrics, which names every tenant with its tokens and
   * cost. Required in production; elsewhere, without it, /metrics is open.
   */
  @trimmed() @IsOptional() @IsString() @MinLength(16, { message: 'METRICS_TOKEN must be at least 16 characters long' })
  METRICS_TOKEN?: string;

  /** Serve the admin console at /console (on by default outside production, off in production). */
  @IsOptional() @IsIn(['true', 'false'], { message: 'CONSOLE_ENABLED must be true or false' })
  CONSOLE_ENABLED?: 'true' | 'false';

  /** Serve the OpenAPI document at /docs and /docs-json (on by default outside production, off in production). */
  @IsOptional() @IsIn(['true', 'false'], { message: 'DOCS_ENABLED must be true or false' })
  DOCS_ENABLED?: 'true' | 'false';

  @trimmed() @Matches(/^(sqlite:.+|postgres(ql)?:\/\/.+)$/, { message: 'DATABASE_URL must be sqlite:<path> or postgres://…' })
  DATABASE_URL = 'sqlite:./data/tollgate.sqlite';

  /** Names the gateway's tables (default `tollgate_`: `tollgate_tenants`, …, `tollgate_migrations`); empty for a database of a version before prefixes. */
  @IsOptional() @IsString()
  DATABASE_TABLE_PREFIX?: string;

  @trimmed() @IsOptional() @Matches(/^rediss?:\/\/.+$/, { message: 'REDIS_URL must be redis://… or rediss://…' })
  REDIS_URL?: string;

  /** Before every Redis key (limits, and BullMQ's unless AI_JOBS_QUEUE_PREFIX is set), so that two deployments can share one Redis. */
  @Matches(/^[^\s{}]+$/, { message: 'REDIS_PREFIX must be a non-empty prefix without spaces or braces, such as tollgate:' })
  REDIS_PREFIX = 'tollgate:';

  @trimmed() @IsUrl(URL_OPTIONS)
  OPENAI_STATUS_URL = DEFAULT_STATUS_URL;

  /** Where models.yaml and plans.yaml are read from. */
  @trimmed() @IsString() @IsNotEmpty()
  CONFIG_DIR = 'config';

  @IsOptional() @Type(() => Number) @IsInt() @Min(1)
  AI_CONNECT_TIMEOUT_MS?: number;

  @IsOptional() @Type(() => Number) @IsInt() @Min(1)
  AI_FIRST_BYTE_TIMEOUT_MS?: number;

  @IsOptional() @Type(() => Number) @IsInt() @Min(1)
  AI_STREAM_IDLE_TIMEOUT_MS?: number;

  @IsOptional() @Type(() => Number) @IsInt() @Min(1)
  AI_TOTAL_TIMEOUT_MS?: number;

  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(10)
  AI_RETRY_MAX_ATTEMPTS?: number;

  @IsOptional() @Type(() => Number) @IsInt() @Min(0)
  AI_RETRY_BASE_DELAY_MS?: number;

  @IsOptional() @Type(() => Number) @IsNumber() @Min(0) @Max(1)
  AI_RETRY_BUDGET_RATIO?: number;

  @IsOptional() @Type(() => Number) @IsNumber() @Min(0)
  AI_RETRY_BUDGET_MIN_PER_SECOND?: number;

  @IsOptional() @Type(() => Number) @IsInt() @Min(0) @Max(100)
  AI_BREAKER_ERROR_PERCENT?: number;

  @IsOptional() @Type(() => Number) @IsInt() @Min(0)
  AI_BREAKER_MIN_VOLUME?: number;

  @IsOptional() @Type(() => Number) @IsInt() @Min(1)
  AI_BREAKER_RESET_MS?: number;

  /** How long a tenant key and a tenant's limits are cached: a revoked key stops working within this. */
  @IsOptional() @Type(() => Number) @IsInt() @Min(0)
  AI_KEY_CACHE_TTL_MS?: number;

  /** Days a ledger row is kept once its UTC day is rolled up into daily totals, which usage reports read from then on. */
  @IsOptional() @Type(() => Number)
  @IsInt({ message: 'AI_LEDGER_RETENTION_DAYS must be a whole number of days, at least 1' })
  @Min(1, { message: 'AI_LEDGER_RETENTION_DAYS must be a whole number of days, at least 1' })
  AI_LEDGER_RETENTION_DAYS?: number;

  /** Days the daily roll-ups are kept; unset, forever. */
  @IsOptional() @Type(() => Number)
  @IsInt({ message: 'AI_LEDGER_ROLLUP_RETENTION_DAYS must be a whole number of days, at least 1 (unset: kept forever)' })
  @Min(1, { message: 'AI_LEDGER_ROLLUP_RETENTION_DAYS must be a whole number of days, at least 1 (unset: kept forever)' })
  AI_LEDGER_ROLLUP_RETENTION_DAYS?: number;

  /** The largest request body read; a larger one is a 413 before it is parsed. */
  @Type(() => Number)
  @IsInt({ message: 'MAX_BODY_BYTES must be a whole number of bytes, at least 1024' })
  @Min(1024, { message: 'MAX_BODY_BYTES must be a whole number of bytes, at least 1024' })
  MAX_BODY_BYTES = 4 * 1024 * 1024;

  /** How long a client has to send a request's headers, from its first byte or from the connection. */
  @Type(() => Number) @IsInt() @Min(1)
  HTTP_HEADERS_TIMEOUT_MS = 10_000;

  /** How long a client has to send a whole request, headers and body; the answer may take longer. */
  @Type(() => Number) @IsInt() @Min(1)
  HTTP_REQUEST_TIMEOUT_MS = 30_000;

  /** How long an idle keep-alive connection stays open: longer than the load balancer's idle timeout (often 60 s). */
  @Type(() => Number) @IsInt() @Min(1)
  HTTP_KEEP_ALIVE_TIMEOUT_MS = 72_000;

  /** Connections open at once; more are dropped. Keep it under the descriptor limit (ulimit -n) less what the upstream, database and Redis need. */
  @Type(() => Number) @IsInt() @Min(1)
  HTTP_MAX_CONNECTIONS = 800;

  /** Tenants that get a metric label of their own (the first seen); the others are counted as `other`. */
  @IsOptional() @Type(() => Number) @IsInt() @Min(0)
  AI_MAX_TENANT_LABELS?: number;

  /** A Slack-compatible incoming webhook for alerts (config/alerts.yaml); without one, alerts are logged. */
  @trimmed() @IsOptional() @IsUrl(URL_OPTIONS, { message: 'ALERT_WEBHOOK_URL must be an http(s) URL' })
  ALERT_WEBHOOK_URL?: string;

  @IsOptional() @Type(() => Number) @IsInt() @Min(100)
  ALERT_EVALUATION_INTERVAL_MS?: number;

  @IsIn(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { message: 'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent' })
  LOG_LEVEL = 'info';

  /** How stdout's lines read: `json` (the default in production) or `pretty` (pino-pretty, the default elsewhere). */
  @IsOptional() @IsIn(['json', 'pretty'], { message: 'LOG_FORMAT must be json or pretty' })
  LOG_FORMAT?: 'json' | 'pretty';

  /**
   * On SIGTERM, how long readiness fails while the gateway still serves, so that load balancers
   * stop sending before the server closes: a little more than the readiness probe's period.
   * 5000 in production; 0 elsewhere, where no load balancer waits and Ctrl-C should close at once.
   */
  @IsOptional() @Type(() => Number) @IsInt() @Min(0)
  SHUTDOWN_READINESS_DELAY_MS?: number;

  /** `gpt-4o=gpt-4o-mini,gpt-4.1-mini;o4-mini=gpt-4o-mini` */
  @trimmed() @IsOptional() @Matches(/^[^=;,\s]+=[^=;,\s]+(,[^=;,\s]+)*(;[^=;,\s]+=[^=;,\s]+(,[^=;,\s]+)*)*;?$/, {
    message: 'AI_FALLBACK_MODELS must look like "gpt-4o=gpt-4o-mini,gpt-4.1-mini;o4-mini=gpt-4o-mini"',
  })
  AI_FALLBACK_MODELS?: string;

  /** Run queued jobs in this replica (a replica with it off still accepts them). */
  @IsOptional() @IsIn(['true', 'false'], { message: 'AI_JOBS_ENABLED must be true or false' })
  AI_JOBS_ENABLED?: 'true' | 'false';

  /** Jobs this replica runs at once. */
  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(1000)
  AI_JOBS_CONCURRENCY?: number;

  /** Jobs of one tenant queued or running at once; a submit beyond is a 429 too_many_jobs. */
  @IsOptional() @Type(() => Number) @IsInt() @Min(1)
  AI_JOBS_MAX_UNFINISHED_PER_TENANT?: number;

  /** Jobs of one tenant running at once, across replicas. */
  @IsOptional() @Type(() => Number) @IsInt() @Min(1)
  AI_JOBS_TENANT_CONCURRENCY?: number;

  /** How long a finished job's result or error can be read. */
  @IsOptional() @Type(() => Number) @IsInt() @Min(1000)
  AI_JOBS_RETENTION_MS?: number;

  /** How often the embedded (database) queue looks for work. */
  @IsOptional() @Type(() => Number) @IsInt() @Min(10)
  AI_JOBS_POLL_INTERVAL_MS?: number;

  /** A running job's lease: a job whose replica died runs again once it lapses. */
  @IsOptional() @Type(() => Number) @IsInt() @Min(1000)
  AI_JOBS_LEASE_MS?: number;

  /** How long running jobs may finish on shutdown before they go back to the queue. */
  @IsOptional() @Type(() => Number) @IsInt() @Min(0)
  AI_JOBS_SHUTDOWN_GRACE_MS?: number;

  /** `hooks.example.com,*.example.org`: the hosts job webhooks may be sent to. */
  @trimmed() @IsOptional() @Matches(/^(\*\.)?[a-z0-9.-]+(,\s*(\*\.)?[a-z0-9.-]+)*$/i, {
    message: 'AI_JOBS_WEBHOOK_ALLOWED_HOSTS must be a comma-separated list of host names, e.g. "hooks.example.com,*.example.org"',
  })
  AI_JOBS_WEBHOOK_ALLOWED_HOSTS?: string;

  /** `443,8443`: the ports job webhooks may be sent to (a URL without one uses 443 for https, 80 for http). */
  @trimmed() @IsOptional() @Matches(new RegExp(`^${TCP_PORT}(,\\s*${TCP_PORT})*$`), {
    message: 'AI_JOBS_WEBHOOK_ALLOWED_PORTS must be a comma-separated list of ports from 1 to 65535, e.g. "443,8443"',
  })
  AI_JOBS_WEBHOOK_ALLOWED_PORTS?: string;

  /** Send job webhooks over plain http too (off: https only). */
  @IsOptional() @IsIn(['true', 'false'], { message: 'AI_JOBS_WEBHOOK_ALLOW_HTTP must be true or false' })
  AI_JOBS_WEBHOOK_ALLOW_HTTP?: 'true' | 'false';

  /** Send job webhooks to loopback, link-local and private addresses too (off: a host resolving to one is refused). */
  @IsOptional() @IsIn(['true', 'false'], { message: 'AI_JOBS_WEBHOOK_ALLOW_PRIVATE_ADDRESSES must be true or false' })
  AI_JOBS_WEBHOOK_ALLOW_PRIVATE_ADDRESSES?: 'true' | 'false';

  /** The BullMQ key prefix on Redis: deployments that share a Redis need one each. */
  @trimmed() @IsOptional() @Matches(/^[A-Za-z0-9_-]{1,64}$/, { message: 'AI_JOBS_QUEUE_PREFIX must be 1 to 64 letters, digits, "_" or "-"' })
  AI_JOBS_QUEUE_PREFIX?: string;

  /** The key job webhooks are signed with (HMAC-SHA256 in x-tollgate-signature). */
  @trimmed() @IsOptional() @IsString() @MinLength(16, { message: 'AI_JOBS_WEBHOOK_SECRET must be at least 16 characters long' })
  AI_JOBS_WEBHOOK_SECRET?: string;
}

export class InvalidEnvironmentError extends Error {
  constructor(problems: string[]) {
    super(`Invalid configuration, the gateway cannot start:\n  - ${problems.join('\n  - ')}`);
    this.name = 'InvalidEnvironmentError';
  }
}

/** Validates the environment once, at start-up; the messages name the variable, never its value. */
export function validateEnvironment(env: Record<string, string | undefined>): EnvironmentVariables {
  const defined = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''));
  const variables = plainToInstance(EnvironmentVariables, defined, { exposeDefaultValues: true });
  const problems = validateSync(variables, { skipMissingProperties: false }).flatMap(describeProblem);
  problems.push(...productionProblems(variables));
  if (variables.AI_JOBS_WEBHOOK_ALLOWED_HOSTS && !variables.AI_JOBS_WEBHOOK_SECRET) {
    problems.push('AI_JOBS_WEBHOOK_SECRET is required with AI_JOBS_WEBHOOK_ALLOWED_HOSTS: every webhook is signed');
  }
  problems.push(...ledgerRetentionProblems(variables));
  if (problems.length > 0) throw new InvalidEnvironmentError(problems);
  return variables;
}

/** A day's roll-ups are what is left of it once its ledger rows are deleted: they cannot go first. */
function ledgerRetentionProblems({ AI_LEDGER_RETENTION_DAYS, AI_LEDGER_ROLLUP_RETENTION_DAYS: rollups }: EnvironmentVariables): string[] {
  const retention = AI_LEDGER_RETENTION_DAYS ?? LEDGER_RETENTION_DEFAULTS.retentionDays;
  // A value that is not a number is reported already, and compares as false.
  if (rollups === undefined || !(rollups < retention)) return [];
  return [`AI_LEDGER_ROLLUP_RETENTION_DAYS must be at least AI_LEDGER_RETENTION_DAYS (${retention}): a day's roll-ups are what is left of it once its ledger rows are deleted`];
}

function describeProblem(error: ValidationError): string[] {
  return Object.values(error.constraints ?? {});
}

function productionProblems(variables: EnvironmentVariables): string[] {
  if (variables.NODE_ENV !== 'production') return [];
  const problems: string[] = [];
  // With config/upstreams.yaml, the keys are that file's.
  if (variables.AI_SECRET_PROVIDER === 'env' && !variables.OPENAI_API_KEY && !hasUpstreamsFile(variables.CONFIG_DIR)) {
    problems.push('OPENAI_API_KEY is required in production (AI_SECRET_PROVIDER=env): the gateway has no upstream key');
  }
  if (!variables.ADMIN_TOKEN) problems.push('ADMIN_TOKEN is required in production');
  if (!variables.METRICS_TOKEN) {
    problems.push("METRICS_TOKEN is required in production: /metrics shows every tenant's usage, so Prometheus must send it as a bearer token");
  }
  return problems;
}
