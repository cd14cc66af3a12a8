import { randomUUID } from 'node:crypto';
import type { CompletionUsage } from 'openai/resources/completions';
import type { ModelRegistry } from '../context/model-registry';
import { isAiError, RequestAbortedError } from '../errors/ai-errors';
import type { TenantRateLimitStates } from '../limits/rate-limit-state';
import type { ActiveTenant } from '../tenancy/tenant-limits';
import type { PrimedStream, UpstreamStream } from '../upstream/chat-stream';
import { CallContext, CallOutcome, fallbackChainOf } from '../upstream/resilient-upstream';
import { Admission, AdmissionContext, Admissions, BilledUsage, CallEnd, DEFAULT_TENANT_ID } from './admissions';
import type { ChatContext } from './chat-request';

// The steps every endpoint's call takes, in ChatPipeline's order, shared by the pipeline of each endpoint.

/** What a call of another endpoint than chat is given by its caller: the context policy is chat's alone. */
export type EndpointContext = Omit<ChatContext, 'contextPolicy'>;

/** A call resolved before its admission: its tenant, the models that may serve it (the requested one first), its id. */
export interface ResolvedCall {
  tenant: ActiveTenant;
  servingModels: string[];
  requestId: string;
}

/** The tenant, then the model checks (known, or passed through by the plan), then the fallback chain. */
export async function resolveCall(
  model: string,
  context: EndpointContext,
  { admissions, registry, fallbackModels }: { admissions: Admissions; registry: ModelRegistry; fallbackModels: Record<string, string[]> },
): Promise<ResolvedCall> {
  const tenant = await admissions.tenant(context.tenantId ?? DEFAULT_TENANT_ID);
  const { limits } = tenant;
  registry.assertCallable(model, limits.allowUnknownModels);
  const fallbacks = fallbackChainOf(limits.fallbackModels ?? fallbackModels, model);
  return { tenant, servingModels: [model, ...fallbacks], requestId: context.requestId ?? randomUUID() };
}

export function admissionContextOf(call: ResolvedCall, context: EndpointContext, stream: boolean, promptTokens: number): AdmissionContext {
  return {
    tenantId: call.tenant.id,
    tenant: call.tenant,
    keyId: context.keyId,
    requestId: call.requestId,
    stream,
    servingModels: call.servingModels,
    promptTokens,
    onCallEnded: context.onCallEnded,
    requestAlreadyCounted: context.requestAlreadyCounted,
  };
}

export function callContextOf(call: ResolvedCall, context: EndpointContext): CallContext {
  const { signal, timeoutMs, deferRetryAfter } = context;
  return { tenantId: call.tenant.id, signal, timeoutMs, deferRetryAfter, fallbacks: call.servingModels.slice(1) };
}

/** A relayed stream as its caller gets it: who answers it, where the tenant stands, and a way to stop it. */
export function governedStream<T>(
  outcome: CallOutcome<PrimedStream<T>>,
  admission: Admission,
  relayed: AsyncGenerator<T>,
): UpstreamStream<T> & { readonly rateLimits: TenantRateLimitStates } {
  return {
    model: outcome.model,
    attempts: outcome.attempts,
    upstreamRequestId: outcome.upstreamRequestId,
    upstream: outcome.upstream,
    rateLimits: admission.rateLimits,
    cancel: () => outcome.value.control.abort(new RequestAbortedError()),
    [Symbol.asyncIterator]: () => relayed,
  };
}

/** OpenAI's usage of a chat completion (or an embedding, which has no completion), as it is billed. */
export function billedUsage(usage: Partial<CompletionUsage> | null | undefined): BilledUsage | undefined {
  if (!usage) return undefined;
  return {
    promptTokens: usage.prompt_tokens ?? 0,
    completionTokens: usage.completion_tokens ?? 0,
    cachedTokens: usage.prompt_tokens_details?.cached_tokens ?? 0,
    reasoningTokens: usage.completion_tokens_details?.reasoning_tokens ?? 0,
  };
}

export function outcomeOf(error: unknown): string {
  return isAiError(error) ? error.code : 'internal_error';
}

/** A failed call's end: upstream errors say how many attempts were made and the upstream's request id. */
export function failure(error: unknown): CallEnd {
  if (!isAiError(error)) return { outcome: 'internal_error', attempts: 0 };
  return { outcome: error.code, attempts: error.upstreamAttempts ?? 0, upstreamRequestId: error.upstreamRequestId };
}

/** Runs an admitted call; when it fails, the admission ends with the failure and the error carries the tenant's rate limits. */
export async function settledOnFailure<T>(admission: Admission, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    admission.finish(failure(error));
    throw withRateLimits(error, admission);
  }
}

function withRateLimits(error: unknown, admission: Admission): unknown {
  if (isAiError(error)) error.rateLimits = { ...admission.rateLimits, ...error.rateLimits };
  return error;
}
