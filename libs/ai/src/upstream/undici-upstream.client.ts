import type { IncomingHttpHeaders } from 'node:http';
import { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from 'openai';
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionCreateParamsNonStreaming,
  ChatCompletionCreateParamsStreaming,
} from 'openai/resources/chat/completions';
import type { CreateEmbeddingResponse, EmbeddingCreateParams } from 'openai/resources/embeddings';
import type { Model } from 'openai/resources/models';
import type {
  Response,
  ResponseCreateParamsNonStreaming,
  ResponseCreateParamsStreaming,
  ResponseStreamEvent,
} from 'openai/resources/responses/responses';
import { Agent, type Dispatcher } from 'undici';
import { TimeoutOptions } from '../ai-module-options';
import { causeCodes, UnreadableUpstreamResponse } from './classify-upstream-error';
import { ServerSentEventDecoder } from './server-sent-events';
import { UpstreamCallOptions, UpstreamClient, UpstreamResponse } from './upstream-client';
import { rememberAsReceived } from './as-received';
import type { UpstreamEndpoint } from './upstream-pool-options';

/**
 * The upstream transport: undici's `Pool.request` straight to the upstream, without fetch and the
 * `openai` SDK's request machinery (about a sixth of their CPU per call: `npm run bench:transport`).
 * Failures are still the SDK's own error classes, built as the SDK builds them, so that
 * `classifyUpstreamError` reads them as before.
 */
export class UndiciUpstreamClient implements UpstreamClient {
  private readonly dispatcher: Dispatcher;
  private readonly bases = new WeakMap<UpstreamEndpoint, { origin: string; path: string }>();

  /**
   * @param dispatcher the connections to the upstreams (an Agent keeps a pool per origin); a test may hand in one
   * that fails as it needs.
   */
  constructor(timeouts: TimeoutOptions, dispatcher?: Dispatcher) {
    // First-byte, idle and total limits are the call policy's; the socket only bounds connecting.
    this.dispatcher = dispatcher ?? new Agent({ connect: { timeout: timeouts.connectMs }, headersTimeout: 0, bodyTimeout: 0 });
  }

  async createChatCompletion(
    body: ChatCompletionCreateParamsNonStreaming,
    options: UpstreamCallOptions,
  ): Promise<UpstreamResponse<ChatCompletion>> {
    const response = await this.send('POST', '/chat/completions', options, modelBody(body, options.upstream), body.model);
    const data = await readJson(response, options.signal);
    if (!hasArray(data, 'choices')) throw new UnreadableUpstreamResponse();
    return { data: data as ChatCompletion, ...answerOf(response.headers) };
  }

  async streamChatCompletion(
    body: ChatCompletionCreateParamsStreaming,
    options: UpstreamCallOptions,
  ): Promise<UpstreamResponse<AsyncIterable<ChatCompletionChunk>>> {
    const response = await this.send('POST', '/chat/completions', options, modelBody(body, options.upstream), body.model);
    return { data: chunksOf(response, options.signal), ...answerOf(response.headers) };
  }

  async listModels(options: UpstreamCallOptions): Promise<UpstreamResponse<Model[]>> {
    const response = await this.send('GET', '/models', options);
    const page = await readJson(response, options.signal);
    if (!hasArray(page, 'data')) throw new UnreadableUpstreamResponse();
    return { data: (page as { data: Model[] }).data, ...answerOf(response.headers) };
  }

  async close(): Promise<void> {
    await this.dispatcher.destroy();
  }

  /**
   * One request to the call's upstream, authenticated with the call's own key as that upstream takes it; an answer
   * that is not a 2xx is thrown. `model` places the request on its Azure deployment.
   */
  private async send(
    method: 'GET' | 'POST',
    operation: string,
    { signal, apiKey, upstream }: UpstreamCallOptions,
    body?: string,
    model?: string,
  ): Promise<Dispatcher.ResponseData> {
    if (signal.aborted) throw new APIUserAbortError();
    const headers: Record<string, string> = upstream.kind === 'azure' ? { 'api-key': apiKey } : { authorization: `Bearer ${apiKey}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (upstream.organization) headers['openai-organization'] = upstream.organization;
    const { origin, path } = this.baseOf(upstream);
    let response: Dispatcher.ResponseData;
    try {
      response = await this.dispatcher.request({ origin, method, path: path + operationPath(upstream, operation, model), headers, body, signal });
    } catch (error) {
      throw signal.aborted ? new APIUserAbortError() : connectionError(error);
    }
    if (response.statusCode < 200 || response.statusCode > 299) throw await statusError(response, signal);
    return response;
  }

  private baseOf(upstream: UpstreamEndpoint): { origin: string; path: string } {
    let base = this.bases.get(upstream);
    if (!base) {
      const url = new URL(upstream.baseURL);
      base = { origin: url.origin, path: url.pathname.replace(/\/+$/, '') };
      this.bases.set(upstream, base);
    }
    return base;
  }

  async createEmbeddings(body: EmbeddingCreateParams, options: UpstreamCallOptions): Promise<UpstreamResponse<CreateEmbeddingResponse>> {
    const response = await this.send('POST', '/embeddings', options, modelBody(body, options.upstream), body.model);
    const data = await readJson(response, options.signal);
    if (!hasArray(data, 'data')) throw new UnreadableUpstreamResponse();
    return { data: data as CreateEmbeddingResponse, ...answerOf(response.headers) };
  }

  async createResponse(body: ResponseCreateParamsNonStreaming & { model: string }, options: UpstreamCallOptions): Promise<UpstreamResponse<Response>> {
    const response = await this.send('POST', '/responses', options, modelBody(body, options.upstream), body.model);
    const data = await readJson(response, options.signal);
    if (!hasArray(data, 'output')) throw new UnreadableUpstreamResponse();
    return { data: data as Response, ...answerOf(response.headers) };
  }

  async streamResponse(body: ResponseCreateParamsStreaming & { model: string }, options: UpstreamCallOptions): Promise<UpstreamResponse<AsyncIterable<ResponseStreamEvent>>> {
    const response = await this.send('POST', '/responses', options, modelBody(body, options.upstream), body.model);
    return { data: responseEventsOf(response, options.signal), ...answerOf(response.headers) };
  }
}

/**
 * Where an operation goes below the base URL: OpenAI's and Azure's v1 paths as they are. An Azure upstream with an
 * `apiVersion` is Azure's deployments API: a model's operations go under its deployment, and every request names the version.
 */
function operationPath({ kind, deployments, apiVersion }: UpstreamEndpoint, operation: string, model?: string): string {
  if (kind !== 'azure' || apiVersion === undefined) return operation;
  const version = `api-version=${encodeURIComponent(apiVersion)}`;
  if (model === undefined || operation === '/models') return `${operation}?${version}`;
  return `/deployments/${encodeURIComponent(deploymentOf(deployments, model))}${operation}?${version}`;
}

/** The Azure deployment that serves `model`: as mapped, else one named as the model. */
function deploymentOf(deployments: Record<string, string> | undefined, model: string): string {
  return deployments && Object.hasOwn(deployments, model) ? deployments[model] : model;
}

/** The body as the upstream takes it: Azure names the deployment where OpenAI names the model. */
function modelBody(body: { model: string }, { kind, deployments }: UpstreamEndpoint): string {
  const deployment = kind === 'azure' ? deploymentOf(deployments, body.model) : body.model;
  return JSON.stringify(deployment === body.model ? body : { ...body, model: deployment });
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

/** What an answer's headers say of it: its request id (OpenAI's, or Azure's) and whose key answered. */
function answerOf(headers: IncomingHttpHeaders): Pick<UpstreamResponse<unknown>, 'requestId' | 'account'> {
  const organization = headerOf(headers, 'openai-organization');
  const project = headerOf(headers, 'openai-project');
  return {
    requestId: headerOf(headers, 'x-request-id') ?? headerOf(headers, 'x-ms-request-id') ?? headerOf(headers, 'apim-request-id'),
    account: organization === undefined && project === undefined ? undefined : { organization, project },
  };
}

function headerOf(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return typeof value === 'string' ? value : undefined;
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

/**
 * The Responses API's events, each parsed once and read from the socket only when the consumer asks for the next one;
 * the stream names each event in its `type`, and ends with its body (no `[DONE]`). An error event is an event like any
 * other: the caller decides what it ends.
 */
async function* responseEventsOf(response: Dispatcher.ResponseData, signal: AbortSignal): AsyncGenerator<ResponseStreamEvent> {
  const events = new ServerSentEventDecoder();
  try {
    for await (const bytes of response.body as AsyncIterable<Buffer>) {
      for (const data of events.decode(bytes)) yield rememberAsReceived(JSON.parse(data) as ResponseStreamEvent, data);
    }
  } catch (error) {
    throw signal.aborted ? new APIUserAbortError() : error;
  }
}
