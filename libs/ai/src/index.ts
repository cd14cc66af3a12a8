import type { ASYNC_OPTIONS_TYPE } from './ai.module-definition';

export { AiModule } from './ai.module';
export type AiModuleAsyncOptions = typeof ASYNC_OPTIONS_TYPE;
export type {
  AiModuleOptions,
  AlertOptions,
  BreakerOptions,
  ImageTokenRule,
  ModelInfo,
  PatchImageTokens,
  RetryBudgetOptions,
  RetryOptions,
  SecretOptions,
  TenancyOptions,
  TileImageTokens,
  TimeoutOptions,
  JobErrorFields,
  JobsOptions,
  LedgerRetentionOptions,
  TokenEncoding,
  UpstreamOptions,
} from './ai-module-options';
export { LEDGER_RETENTION_DEFAULTS } from './ai-module-options';
export { AiService } from './ai.service';
export { Admissions, DEFAULT_TENANT_ID } from './chat/admissions';
export type { Admission, AdmissionContext, BilledUsage, CallEnd, MediaPart, MeteredCall, TokenEstimate } from './chat/admissions';
export type { EndpointContext } from './chat/call-steps';
export type { EmbeddingRequest, EmbeddingResult } from './embeddings/embedding-request';
export type { GovernedResponseStream, ResponseFinalEvent, ResponseRequest, ResponseResult, ResponseStreamRequest } from './responses/response-request';
export { RESPONSE_FAILED_OUTCOME } from './responses/responses-pipeline';
export { DEFAULT_MODELS } from './context/default-models';
export { DEFAULT_IMAGE_TOKENS, UNLISTED_MODEL_FILE_TOKENS } from './context/media-token-bounds';
export { UNLISTED_MODEL_COMPLETION_BOUND } from './context/model-registry';
export type { ChatContext, ChatRequest, ChatResult, ContextReport, GovernedChatStream } from './chat/chat-request';
export type { ContextAction } from './context/context-fitter';
export type { ChatStream, UpstreamStream } from './upstream/chat-stream';
export { BreakerRegistry } from './upstream/breaker-registry';
export type { BreakerState, BreakerStatus } from './upstream/breaker-registry';
export { RetryBudget } from './upstream/retry-budget';
export { Clock, InjectClock, SystemClock } from './common/clock';
export { Random, InjectRandom } from './common/random';
export { UpstreamClient, InjectUpstreamClient } from './upstream/upstream-client';
export type { UpstreamAccount, UpstreamCallOptions, UpstreamResponse } from './upstream/upstream-client';
export { UpstreamPool, PooledKey, PoolUpstream } from './upstream/upstream-pool';
export type { KeyOutReason, KeyState, PooledKeyStatus } from './upstream/upstream-pool';
export { resolveUpstreamPool, UPSTREAM_KINDS } from './upstream/upstream-pool-options';
export type { ExpectedAccount, PoolUpstreamOptions, UpstreamEndpoint, UpstreamKeyOptions, UpstreamKind } from './upstream/upstream-pool-options';
export type { TenantStatus } from './tenancy/tenant.entity';
export { RedisConnection } from './limits/redis-connection';
export { DependencyStatus } from './health/dependency-status';
export type { DependencyListener } from './health/dependency-status';
export { UpstreamStatusPage, UPSTREAM_STATUS_PAGE_OPTIONS } from './health/upstream-status-page';
export type { StatusPageReport, UpstreamStatusPageOptions } from './health/upstream-status-page';
export { toOpenAiError } from './http/openai-error';
export type { OpenAiErrorOptions, OpenAiErrorResponse } from './http/openai-error';
export { OpenAiHttpException } from './http/openai-http.exception';
export type { OpenAiErrorFields } from './http/openai-http.exception';
export { OpenAiExceptionFilter, OPENAI_EXCEPTION_FILTER_OPTIONS } from './http/openai-exception.filter';
export type { OpenAiExceptionFilterOptions } from './http/openai-exception.filter';
export { rateLimitHeaders } from './http/rate-limit-headers';
export { sendChatStream } from './http/chat-stream-sse';
export type { ChatStreamRelayOptions, FastifyReplyLike } from './http/chat-stream-sse';
export { sendResponseStream } from './http/response-stream-sse';
export type { StreamRelayOptions } from './http/sse-relay';
export { CONTEXT_POLICIES, DEFAULT_PLAN, TENANT_ID_PATTERN, UNLIMITED } from './tenancy/tenant-limits';
export type { ActiveTenant, ContextPolicy, LimitOverrides, TenantLimits } from './tenancy/tenant-limits';
export type { DatabaseProbe } from './persistence/database-probe';
export type { QuotaView, QuotaViews, QuotaWindowView } from './tenancy/quota-view';
export type { RateLimitState, TenantRateLimitStates } from './limits/rate-limit-state';
export { SecretProvider, SecretUnavailableError, StaticSecretProvider, fingerprintOf } from './secrets/secret-provider';
export type { SecretFailure, SecretVersion } from './secrets/secret-provider';
export { FileSecretProvider } from './secrets/file-secret.provider';
export { SecretScrubber } from './secrets/secret-scrubber';
export { UpstreamKeyManager } from './secrets/upstream-key-manager';
export type { RefreshOutcome, UpstreamKeyStatus } from './secrets/upstream-key-manager';
export { KeyRefusedAtStartError, KeyVerification } from './secrets/key-verification';
export type { KeyVerdict } from './secrets/key-verification';
export { AiMetrics } from './telemetry/ai-metrics';
export { CallEvents } from './telemetry/call-events';
export type { CallListener, CallRecord, Endpoint } from './telemetry/call-events';
export { AlertEvaluator } from './telemetry/alert-evaluator';
export type { ActiveAlert } from './telemetry/alert-evaluator';
export { AlertNotifier, InjectAlertNotifier, WebhookAlertNotifier } from './telemetry/alert-notifier';
export type { AlertNotification } from './telemetry/alert-notifier';
export { assertValidAlertRules, DEFAULT_ALERT_RULES } from './telemetry/alert-rules';
export type { AlertRule, AlertSeverity } from './telemetry/alert-rules';
export * from './errors/ai-errors';
export type { ChatCompletionJob, JobContext, SubmittedJob } from './jobs/job-types';
export type { JobStatus, WebhookStatus } from './jobs/job.entity';
export { signWebhook, verifyWebhookSignature, WEBHOOK_SIGNATURE_HEADER, WebhookTransport } from './jobs/webhook-notifier';
export { WebhookLookup } from './jobs/webhook-address';
