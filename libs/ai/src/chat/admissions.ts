import type { TenantRateLimitStates } from '../limits/rate-limit-state';
import type { CallListener, CallRecord } from '../telemetry/call-events';
import type { ActiveTenant, TenantLimits } from '../tenancy/tenant-limits';
import type { BreakerState } from '../upstream/breaker-registry';
import type { ChatRequest } from './chat-request';

/** The tenant of a call whose caller names none. */
export const DEFAULT_TENANT_ID = 'default';

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
  usage?: { promptTokens: number; completionTokens: number };
  upstreamRequestId?: string;
  /** The completion's text, logged only for a tenant whose content may be logged. */
  completion?: string | null;
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
  /** Admits the call, or throws the error of the limit that refused it. */
  abstract admit(request: ChatRequest, context: AdmissionContext): Promise<Admission>;
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

export interface EndedCall {
  context: AdmissionContext;
  tenant: ActiveTenant;
  request: ChatRequest;
  end: CallEnd;
  costMicroUsd: number;
  latencyMs: number;
  breakerState: BreakerState;
}

/** An admitted call's end, as logs, metrics and alerts see it. */
export function endedCallRecord({ context, tenant, request, end, costMicroUsd, latencyMs, breakerState }: EndedCall): CallRecord {
  return {
    requestId: context.requestId,
    tenantId: tenant.id,
    keyId: context.keyId ?? null,
    modelRequested: request.model,
    modelServed: end.modelServed ?? null,
    promptTokens: end.usage?.promptTokens ?? 0,
    completionTokens: end.usage?.completionTokens ?? 0,
    costUsd: costMicroUsd / 1_000_000,
    attempts: end.attempts,
    outcome: end.outcome,
    admitted: true,
    stream: context.stream,
    latencyMs,
    upstreamRequestId: end.upstreamRequestId ?? null,
    breakerState,
    content: tenant.logContent ? { messages: request.messages, completion: end.completion ?? null } : undefined,
  };
}
