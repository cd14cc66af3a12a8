import { ChatContext, CONTEXT_POLICIES, ContextPolicy } from '@tollgate/ai';
import { GatewayHttpException } from './gateway-http.exception';
import { FastifyReply, FastifyRequest } from 'fastify';
import { annotateRequestLog, callLogFields } from '../logging/request-log';
import { AuthenticatedTenant } from '../tenancy/tenant-auth.guard';

/**
 * What the library needs to know about one HTTP request: who it is for, its id, a signal
 * that aborts when the tenant disconnects, the shorter deadline the tenant asked for, and where
 * to report how the call ended (the request's log line).
 */
export function chatContextFor(request: FastifyRequest, reply: FastifyReply, tenant: AuthenticatedTenant): ChatContext & { tenantId: string } {
  return {
    tenantId: tenant.id,
    keyId: tenant.keyId,
    requestId: request.id,
    signal: abortedOnDisconnect(reply),
    timeoutMs: callerTimeoutMs(request),
    contextPolicy: requestedContextPolicy(request),
    onCallEnded: (call) => annotateRequestLog(request.raw, callLogFields(call)),
  };
}

/** The tenant may choose, per request, what happens to a prompt that does not fit. */
export const CONTEXT_POLICY_HEADER = 'x-tollgate-context-policy';

function requestedContextPolicy(request: FastifyRequest): ContextPolicy | undefined {
  const value = request.headers[CONTEXT_POLICY_HEADER];
  if (value === undefined) return undefined;
  if (typeof value === 'string' && CONTEXT_POLICIES.includes(value as ContextPolicy)) return value as ContextPolicy;
  throw GatewayHttpException.invalidRequest(`The ${CONTEXT_POLICY_HEADER} header must be one of ${CONTEXT_POLICIES.join(', ')}.`, CONTEXT_POLICY_HEADER);
}

function abortedOnDisconnect(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  // 'close' also fires after a normal end: only an unfinished response means the tenant left.
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) controller.abort();
  });
  return controller.signal;
}

/** The shortest deadline a caller may ask for: less could only produce timeouts. */
const MIN_CALLER_TIMEOUT_MS = 1_000;

/** OpenAI's SDKs send their own timeout as `X-Stainless-Timeout` (seconds): no point working longer. */
function callerTimeoutMs(request: FastifyRequest): number | undefined {
  const seconds = Number(request.headers['x-stainless-timeout']);
  return Number.isFinite(seconds) && seconds > 0 ? Math.max(MIN_CALLER_TIMEOUT_MS, seconds * 1000) : undefined;
}
