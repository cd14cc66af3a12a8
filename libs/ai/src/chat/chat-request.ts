import type { ChatCompletion, ChatCompletionCreateParamsBase } from 'openai/resources/chat/completions';
import type { ContextOutcome } from '../context/context-fitter';
import type { TenantRateLimitStates } from '../limits/rate-limit-state';
import type { CallListener } from '../telemetry/call-events';
import type { ContextPolicy } from '../tenancy/tenant-limits';
import type { ChatStream } from '../upstream/chat-stream';
import type { CallContext } from '../upstream/resilient-upstream';

/** An OpenAI chat completion request; `stream` is chosen by calling `chat` or `chatStream`. */
export type ChatRequest = Omit<ChatCompletionCreateParamsBase, 'stream'>;

/** A streamed request may ask for the usage chunk. */
export type ChatStreamRequest = ChatRequest & Pick<ChatCompletionCreateParamsBase, 'stream_options'>;

export interface ChatContext extends Omit<CallContext, 'fallbacks'> {
  /** Who the call is for: every limit, log line and ledger row is keyed by it. @default 'default' */
  tenantId?: string;
  /** What to do with a prompt that does not fit, instead of the tenant plan's policy. */
  contextPolicy?: ContextPolicy;
  /** The tenant's key that authenticated the call, for the ledger. */
  keyId?: string;
  /** Correlates the call's logs and ledger row; the gateway passes its `x-request-id`. @default a new UUID */
  requestId?: string;
  /** Told how the call ended (tokens, cost, attempts, outcome), or that a limit refused it: e.g. for a request log line. */
  onCallEnded?: CallListener;
  /** The call was counted against the tenant's requests per minute already, as a job is at its submit. @default false */
  requestAlreadyCounted?: boolean;
}

export type ContextReport = Omit<ContextOutcome, 'request'>;

export interface ChatResult {
  completion: ChatCompletion;
  /** The model that answered: the requested one or a fallback. */
  model: string;
  /** Upstream calls made, retries and fallbacks included. */
  attempts: number;
  upstreamRequestId?: string;
  /** The name of the upstream that answered. */
  upstream: string;
  /** Where the tenant stands against its rate limits after this call. */
  rateLimits: TenantRateLimitStates;
  /** What the context policy did to fit the prompt. */
  context: ContextReport;
  /** The completion limit the tenant's plan set (`defaultCompletionTokens`) on a request that named none; absent otherwise. */
  completionAllowance?: number;
}

/** A stream, where the tenant stands against its rate limits, what the context policy did and the plan's allowance. */
export type GovernedChatStream = ChatStream & {
  readonly rateLimits: TenantRateLimitStates;
  readonly context: ContextReport;
  readonly completionAllowance?: number;
};
