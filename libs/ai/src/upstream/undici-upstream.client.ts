import type { IncomingHttpHeaders } from 'node:http';
import { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from 'openai';
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionCreateParamsNonStreaming,
  ChatCompletionCreateParamsStreaming,
} from 'openai/resources/chat/completions';
import type { Model } from 'openai/resources/models';
import { type Dispatcher, Pool } from 'undici';
import { ResolvedUpstreamOptions, TimeoutOptions } from '../ai-module-options';
import { causeCodes, UnreadableUpstreamResponse } from './classify-upstream-error';
import { ServerSentEventDecoder } from './server-sent-events';
import { UpstreamCallOptions, UpstreamClient, UpstreamResponse } from './upstream-client';
import { rememberAsReceived } from './as-received';

/**
 * The upstream transport: undici's `Pool.request` straight to the upstream, without fetch and the
 * `openai` SDK's request machinery (about a sixth of their CPU per call: `npm run bench:transport`).
 * Failures are still the SDK's own error classes, built as the SDK builds them, so that
 * `classifyUpstreamError` reads them as before.
 */
export class UndiciUpstreamClient implements UpstreamClient {
  private readonly pool: Pool;
  private readonly basePath: string;
  private readonly organization?: string;

  /** @param pool the connections to the upstream's origin; a test may hand in one that fails as it needs. */
  constructor(upstream: ResolvedUpstreamOptions, timeouts: TimeoutOptions, pool?: Pool) {
    const base = new URL(upstream.baseURL);
    this.basePath = base.pathname.replace(/\/+$/, '');
    this.organization = upstream.organization;
    // First-byte, idle and total limits are the call policy's; the socket only bounds connecting.
    this.pool = pool ?? new Pool(base.origin, { connect: { timeout: timeouts.connectMs }, headersTimeout: 0, bodyTimeout: 0 });
  }

  async createChatCompletion(
    body: ChatCompletionCreateParamsNonStreaming,
    options: UpstreamCallOptions,
  ): Promise<UpstreamResponse<ChatCompletion>> {
    const response = await this.send('POST', '/chat/completions', options, JSON.stringify(body));
    const data = await readJson(response, options.signal);
    if (!hasArray(data, 'choices')) throw new UnreadableUpstreamResponse();
    return { data: data as ChatCompletion, requestId: requestIdOf(response.headers) };
  }

  async streamChatCompletion(
    body: ChatCompletionCreateParamsStreaming,
    options: UpstreamCallOptions,
  ): Promise<UpstreamResponse<AsyncIterable<ChatCompletionChunk>>> {
    const response = await this.send('POST', '/chat/completions', options, JSON.stringify(body));
    return { data: chunksOf(response, options.signal), requestId: requestIdOf(response.headers) };
  }

  async listModels(options: UpstreamCallOptions): Promise<UpstreamResponse<Model[]>> {
    const response = await this.send('GET', '/models', options);
    const page = await readJson(response, options.signal);
    if (!hasArray(page, 'data')) throw new UnreadableUpstreamResponse();
    return { data: (page as { data: Model[] }).data, requestId: requestIdOf(response.headers) };
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }

  /** One request, authenticated with the call's own key; an answer that is not a 2xx is thrown. */
  private async send(
    method: 'GET' | 'POST',
    path: string,
    { signal, apiKey }: UpstreamCallOptions,
    body?: string,
  ): Promise<Dispatcher.ResponseData> {
    if (signal.aborted) throw new APIUserAbortError();
    const headers: Record<string, string> = { authorization: `Bearer ${apiKey}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.organization) headers['openai-organization'] = this.organization;
    let response: Dispatcher.ResponseData;
    try {
      response = await this.pool.request({ method, path: this.basePath + path, headers, body, signal });
    } catch (error) {
      throw signal.aborted ? new APIUserAbortError() : connectionError(error);
    }
    if (response.statusCode < 200 || response.statusCode > 299) throw await statusError(response, signal);
    return response;
  }
}

/**
 * What the SDK throws when no answer came: the transport's error as the cause, so that its code
 * (ECONNRESET, UND_ERR_CONNECT_TIMEOUT…) stays readable. Like the SDK, any other failure whose text
 * says it timed out (`connect ETIMEDOUT`) is an `APIConnectionTimeoutError`; the connect limit is
 * kept apart, as the connect timeout it is.
 */
function connectionError(error: unknown): APIConnectionError {
  const cause = typeof error === 'object' && error !== null ? (error as Error) : new Error(String(error));
  if (!causeCodes(cause).includes('UND_ERR_CONNECT_TIMEOUT') && /timed? ?out/i.test(`${cause} ${cause.cause ?? ''}`)) {
    const timeout = new APIConnectionTimeoutError();
    timeout.cause = cause;
    return timeout;
  }
  return new APIConnectionError({ cause });
}

/** An error answer, as the SDK's `APIError.generate` builds it from the body (JSON or not) and the headers. */
async function statusError(response: Dispatcher.ResponseData, signal: AbortSignal): Promise<APIError> {
  const text = await response.body.text().catch((error: unknown) => (error instanceof Error ? error.message : String(error)));
  if (signal.aborted) return new APIUserAbortError();
  const json = parseJsonOrUndefined(text);
  return APIError.generate(response.statusCode, json as object | undefined, json ? undefined : text, headersOf(response.headers));
}

/** A 2xx body as JSON; like the SDK, a body not labelled JSON is not read as JSON. */
async function readJson(response: Dispatcher.ResponseData, signal: AbortSignal): Promise<unknown> {
  let text: string;
  try {
    text = await response.body.text();
  } catch (error) {
    // The socket went away mid-body (or the call was aborted): the answer cannot be read.
    throw signal.aborted ? new APIUserAbortError() : new UnreadableUpstreamResponse({ cause: error });
  }
  if (!isJsonMediaType(response.headers['content-type'])) throw new UnreadableUpstreamResponse();
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UnreadableUpstreamResponse({ cause: error });
  }
}

/**
 * The chunks of an SSE body, each event parsed once, read from the socket only when the consumer
 * asks for the next one. The call's signal aborts the request and so the body; leaving the loop
 * early destroys the body.
 */
async function* chunksOf(response: Dispatcher.ResponseData, signal: AbortSignal): AsyncGenerator<ChatCompletionChunk> {
  const events = new ServerSentEventDecoder();
  let done = false;
  try {
    for await (const bytes of response.body as AsyncIterable<Buffer>) {
      // After [DONE] the rest of the body is read, not parsed: the connection then goes back to the pool.
      if (done) continue;
      for (const data of events.decode(bytes)) {
        if (data.startsWith('[DONE]')) {
          done = true;
          break;
        }
        yield chunkFrom(data, response.headers);
      }
    }
  } catch (error) {
    throw signal.aborted ? new APIUserAbortError() : error;
  }
}

function chunkFrom(data: string, headers: IncomingHttpHeaders): ChatCompletionChunk {
  const chunk = JSON.parse(data);
  // An error reported inside an open stream, thrown as the SDK throws it: an APIError without a status.
  if (chunk?.error) throw new APIError(undefined, chunk.error, undefined, headersOf(headers));
  return rememberAsReceived(chunk as ChatCompletionChunk, data);
}

function headersOf(raw: IncomingHttpHeaders): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(raw)) {
    if (Array.isArray(value)) for (const each of value) headers.append(name, each);
    else if (value !== undefined) headers.append(name, value);
  }
  return headers;
}

function requestIdOf(headers: IncomingHttpHeaders): string | undefined {
  const id = headers['x-request-id'];
  return typeof id === 'string' ? id : undefined;
}

function isJsonMediaType(contentType: string | string[] | undefined): boolean {
  const mediaType = String(contentType ?? '').split(';')[0].trim();
  return mediaType.includes('application/json') || mediaType.endsWith('+json');
}

function parseJsonOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** A 2xx that is not the expected JSON: the shape is checked as far as callers rely on it. */
function hasArray(data: unknown, field: string): boolean {
  return typeof data === 'object' && data !== null && Array.isArray((data as Record<string, unknown>)[field]);
}
