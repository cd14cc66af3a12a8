import type { CallRecord } from '@tollgate/ai';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** What the request's one log line says beyond method, path, status and latency. */
export interface RequestLogFields {
  tenant?: string;
  keyId?: string;
  modelRequested?: string;
  modelServed?: string | null;
  upstreamRequestId?: string | null;
  promptTokens?: number;
  completionTokens?: number;
  costUsd?: number;
  attempts?: number;
  breakerState?: string;
  /** `success`, or the error code that ended the request. */
  outcome?: string;
  errorCode?: string | null;
  /** Only for a tenant whose content an operator chose to log. */
  content?: CallRecord['content'];
}

const FIELDS = Symbol('tollgate.requestLogFields');

type AnnotatedRequest = IncomingMessage & { [FIELDS]?: RequestLogFields };

/** Adds fields to the log line that will be written when the response ends. */
export function annotateRequestLog(request: IncomingMessage, fields: RequestLogFields): void {
  const annotated = request as AnnotatedRequest;
  annotated[FIELDS] = { ...annotated[FIELDS], ...fields };
}

/** The fields of a call the library reports as ended; the last call of a request (after a summary call) wins. */
export function callLogFields(call: CallRecord): RequestLogFields {
  return {
    modelRequested: call.modelRequested,
    modelServed: call.modelServed,
    upstreamRequestId: call.upstreamRequestId,
    promptTokens: call.promptTokens,
    completionTokens: call.completionTokens,
    costUsd: call.costUsd,
    attempts: call.attempts,
    breakerState: call.breakerState,
    outcome: call.outcome,
    errorCode: call.outcome === 'success' ? null : call.outcome,
    ...(call.content ? { content: call.content } : {}),
  };
}

/** The outcome of a request whose client left before the answer was sent, as the library names it. */
const REQUEST_ABORTED = 'request_aborted';

/** The line's fields, with an outcome for requests that never reached the library (a bad key, a bad body, an aborted upload). */
export function requestLogFieldsOf(request: IncomingMessage, response: ServerResponse): RequestLogFields {
  const fields = (request as AnnotatedRequest)[FIELDS] ?? {};
  return { ...fields, outcome: fields.outcome ?? outcomeOf(response, fields) };
}

function outcomeOf(response: ServerResponse, fields: RequestLogFields): string {
  if (!response.writableFinished) return REQUEST_ABORTED;
  return response.statusCode < 400 ? 'success' : (fields.errorCode ?? `http_${response.statusCode}`);
}
