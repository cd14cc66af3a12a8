import type { CallRecord } from '@tollgate/ai';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';

/** What the request's one log line says beyond method, path, status and latency. */
export interface RequestLogFields {
  tenant?: string;
  keyId?: string;
  modelRequested?: string;
  modelServed?: string | null;
  /** The upstream that answered, by name (never a key). */
  upstream?: string | null;
  upstreamRequestId?: string | null;
  promptTokens?: number;
  completionTokens?: number;
  /** The parts of the prompt read from the cache and of the completion spent reasoning, when there are any. */
  cachedTokens?: number;
  reasoningTokens?: number;
  costUsd?: number;
  attempts?: number;
  breakerState?: string;
  /** `success`, or the error code that ended the request. */
  outcome?: string;
  errorCode?: string | null;
  /** Only for a tenant whose content an operator chose to log. */
  content?: CallRecord['content'];
}

/** What the log keeps of a request until its response ends. */
interface RequestLogRecord {
  startedAt: number;
  fields: RequestLogFields;
}

const RECORD = Symbol('tollgate.requestLog');

type LoggedRequest = IncomingMessage & { [RECORD]?: RequestLogRecord };

/** Probes and scrapes come every few seconds: a line each would bury the requests that matter. */
const UNLOGGED_PATHS = new Set(['/health/live', '/health/ready', '/metrics']);

/**
 * Writes each request's one line when its response ends. A Fastify hook and a field on the request
 * carry it there, not middleware and AsyncLocalStorage: those cost every request on the gateway.
 */
export function logRequests(fastify: FastifyInstance, log: Logger): void {
  // Failed requests are logged at `error`: above it no request line is ever written.
  if (!log.isLevelEnabled('error')) return;
  fastify.addHook('onRequest', (request, reply, done) => {
    if (!UNLOGGED_PATHS.has(pathOf(request.url))) logWhenEnded(log, request, reply.raw);
    done();
  });
}

/** Adds fields to the log line that will be written when the response ends. */
export function annotateRequestLog(request: IncomingMessage, fields: RequestLogFields): void {
  const record = (request as LoggedRequest)[RECORD];
  if (record) Object.assign(record.fields, fields);
}

/** The fields of a call the library reports as ended; the last call of a request (after a summary call) wins. */
export function callLogFields(call: CallRecord): RequestLogFields {
  return {
    modelRequested: call.modelRequested,
    modelServed: call.modelServed,
    upstream: call.upstream,
    upstreamRequestId: call.upstreamRequestId,
    promptTokens: call.promptTokens,
    completionTokens: call.completionTokens,
    ...(call.cachedTokens > 0 ? { cachedTokens: call.cachedTokens } : {}),
    ...(call.reasoningTokens > 0 ? { reasoningTokens: call.reasoningTokens } : {}),
    costUsd: call.costUsd,
    attempts: call.attempts,
    breakerState: call.breakerState,
    outcome: call.outcome,
    errorCode: call.outcome === 'success' ? null : call.outcome,
    ...(call.content ? { content: call.content } : {}),
  };
}

function pathOf(url: string): string {
  const query = url.indexOf('?');
  return query < 0 ? url : url.slice(0, query);
}

/** 'close' ends every response, sent or abandoned by the client; 'error' is a write that failed. */
function logWhenEnded(log: Logger, request: FastifyRequest, response: ServerResponse): void {
  const record: RequestLogRecord = { startedAt: Date.now(), fields: {} };
  (request.raw as LoggedRequest)[RECORD] = record;
  const ended = (error?: Error) => {
    response.off('close', ended);
    response.off('error', ended);
    writeRequestLine(log, request, response, record, error);
  };
  response.on('close', ended);
  response.on('error', ended);
}

function writeRequestLine(log: Logger, request: FastifyRequest, response: ServerResponse, record: RequestLogRecord, error?: Error): void {
  const failed = error !== undefined || response.statusCode >= 500;
  const level = failed ? 'error' : 'info';
  if (!log.isLevelEnabled(level)) return;
  const { fields } = record;
  log[level](
    {
      requestId: request.id,
      req: { method: request.method, url: request.url },
      // No status was sent to a client that left before the headers.
      res: { statusCode: response.headersSent ? response.statusCode : null },
      latencyMs: Date.now() - record.startedAt,
      ...fields,
      outcome: fields.outcome ?? outcomeOf(response, fields),
    },
    failed ? 'request failed' : 'request completed',
  );
}

/** The outcome of a request whose client left before the answer was sent, as the library names it. */
const REQUEST_ABORTED = 'request_aborted';

/** The outcome of requests that never reached the library (a bad key, a bad body, an aborted upload). */
function outcomeOf(response: ServerResponse, fields: RequestLogFields): string {
  if (!response.writableFinished) return REQUEST_ABORTED;
  return response.statusCode < 400 ? 'success' : (fields.errorCode ?? `http_${response.statusCode}`);
}
