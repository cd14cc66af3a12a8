import type { ChatCompletionContentPart } from 'openai/resources/chat/completions';
import type { TenantRateLimitStates } from '../limits/rate-limit-state';
import type { CallListener, CallRecord, Endpoint } from '../telemetry/call-events';
import type { ActiveTenant, TenantLimits } from '../tenancy/tenant-limits';
import type { BreakerState } from '../upstream/breaker-registry';
import type { ChatRequest } from './chat-request';

/** The tenant of a call whose caller names none. */
export const DEFAULT_TENANT_ID = 'default';

/** An image, audio or file part, whose size the request does not tell: each is reserved at the most its model bills one. */
export type MediaPart = Extract<ChatCompletionContentPart, { type: 'image_url' | 'input_audio' | 'file' }>;

/**
 * A call as admission and the ledger see it, whatever its endpoint: what it asks of which model, and what it may be
 * billed at most on each model that may serve it (the reservation is priced as the dearest of them).
 */
export interface MeteredCall {
  endpoint: Endpoint;
  model: string;
  /** The prompt's text, counted with the requested model's tokenizer; or its bound, when part of the prompt is not in the request. */
  promptTokens: number;
  /**
   * Where `promptTokens` is a bound: the tokens actually counted. The completion may be as long as the model can write
   * after these, so that the reservation stays the most the upstream can bill whichever way the window is split.
   * @default promptTokens
   */
  countedPromptTokens?: number;
  mediaParts: readonly MediaPart[];
  /** The completion tokens each choice may write; undefined: as many as the model can write after the prompt. */
  completionLimit?: number;
  choices: number;
  /** What it sends, logged only for a tenant whose content an operator chose to log. */
  content: { messages: unknown } | { input: unknown };
}

export interface AdmissionContext {
  tenantId: string;
  /** The tenant when the caller has resolved it already. */
  tenant?: ActiveTenant;
  keyId?: string;
  requestId: string;
  stream: boolean;
  /** The requested model and its fallbacks: the reservation is priced as the dearest. */
  servingModels?: string[];
  /** The prompt's tokens when the caller has counted them already (the context policy has). */
  promptTokens?: number;
  /** Told how the call ended, or that a limit refused it, as soon as that is known. */
  onCallEnded?: CallListener;
  /** The request was counted against the tenant's requests per minute already (a job counts at its submit). */
  requestAlreadyCounted?: boolean;
}

/** How a call ended, for the settlement and the ledger. */
export interface CallEnd {
  /** `success`, or the error code that ended it. */
  outcome: string;
  attempts: number;
  modelServed?: string;
  /** What the upstream billed; absent when it answered nothing. */
  usage?: BilledUsage;
  upstreamRequestId?: string;
  /** The name of the upstream that answered. */
  upstream?: string;
  /** The completion's text, logged only for a tenant whose content may be logged. */
  completion?: string | null;
}

/** Tokens as OpenAI bills them: cached tokens are part of the prompt's, reasoning tokens part of the completion's. */
export interface BilledUsage {
  promptTokens: number;
  completionTokens: number;
  /** @default 0 */
  cachedTokens?: number;
  /** @default 0 */
  reasoningTokens?: number;
}

export interface TokenEstimate {
  promptTokens: number;
  completionTokens: number;
  costMicroUsd: number;
}

/** A request let through every limit: it holds a reservation and a slot until `finish`. */
export interface Admission {
  readonly tenant: ActiveTenant;
  readonly estimate: TokenEstimate;
  readonly rateLimits: TenantRateLimitStates;
  /** Settles the reservation, frees the slot, writes the ledger row; never throws, runs once. */
  finish(end: CallEnd): void;
}

/**
 * The tenant's side of every call, which ChatPipeline asks before and after the upstream: Governance with a
 * database (limits, quotas, reservations, the ledger), OpenAdmissions without one (every call admitted, and
 * announced to the metrics and the caller's listener all the same).
 */
export abstract class Admissions {
  /** The tenant and its limits, as a call for it would see them. */
  abstract tenant(tenantId: string): Promise<ActiveTenant>;
  /** Admits the chat call, or throws the error of the limit that refused it. */
  abstract admit(request: ChatRequest, context: AdmissionContext): Promise<Admission>;
  /** Admits a call of any endpoint, or throws the error of the limit that refused it. */
  abstract admitCall(call: MeteredCall, context: AdmissionContext): Promise<Admission>;
  /** Resolves once every call ended so far is settled. */
  abstract drain(): Promise<void>;
}

/**
 * A request that names no completion limit goes upstream as sent, unless the tenant's plan sets a default
 * allowance: that is then its limit, within what the model can still write after this prompt (`largest`).
 */
export function capCompletion<T extends ChatRequest>(request: T, limits: TenantLimits, largest: number): T {
  if (request.max_completion_tokens != null || request.max_tokens != null || limits.defaultCompletionTokens == null) return request;
  return { ...request, max_completion_tokens: Math.max(1, Math.min(limits.defaultCompletionTokens, largest)) };
}

/** A chat request as admission meters it; `promptTokens`: its text, counted (or bounded) by the caller. */
export function meteredChat(request: ChatRequest, promptTokens: number): MeteredCall {
  return {
    endpoint: 'chat.completions',
    model: request.model,
    promptTokens,
    mediaParts: mediaPartsOf(request.messages),
    completionLimit: request.max_completion_tokens ?? request.max_tokens ?? undefined,
    choices: request.n ?? 1,
    content: { messages: request.messages },
  };
}

function mediaPartsOf(messages: ChatRequest['messages']): MediaPart[] {
  const parts: MediaPart[] = [];
  for (const message of messages) {
    if (!Array.isArray(message.content)) continue;
    for (const part of message.content) if (part.type === 'image_url' || part.type === 'input_audio' || part.type === 'file') parts.push(part);
  }
  return parts;
}

export interface EndedCall {
  context: AdmissionContext;
  tenant: ActiveTenant;
  call: MeteredCall;
  end: CallEnd;
  costMicroUsd: number;
  latencyMs: number;
  breakerState: BreakerState;
}

/** An admitted call's end, as logs, metrics and alerts see it. */
export function endedCallRecord({ context, tenant, call, end, costMicroUsd, latencyMs, breakerState }: EndedCall): CallRecord {
  return {
    requestId: context.requestId,
    tenantId: tenant.id,
    keyId: context.keyId ?? null,
    endpoint: call.endpoint,
    modelRequested: call.model,
    modelServed: end.modelServed ?? null,
    promptTokens: end.usage?.promptTokens ?? 0,
    completionTokens: end.usage?.completionTokens ?? 0,
    cachedTokens: end.usage?.cachedTokens ?? 0,
    reasoningTokens: end.usage?.reasoningTokens ?? 0,
    costUsd: costMicroUsd / 1_000_000,
    attempts: end.attempts,
    outcome: end.outcome,
    admitted: true,
    stream: context.stream,
    latencyMs,
    upstreamRequestId: end.upstreamRequestId ?? null,
    upstream: end.upstream ?? null,
    breakerState,
    content: tenant.logContent ? { ...call.content, completion: end.completion ?? null } : undefined,
  };
}
