import OpenAI, { OpenAIError } from 'openai';
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionCreateParamsNonStreaming,
  ChatCompletionCreateParamsStreaming,
} from 'openai/resources/chat/completions';
import type { Model } from 'openai/resources/models';
import { Agent, fetch as undiciFetch } from 'undici';
import { ResolvedAiOptions } from '../ai-module-options';
import { causeCodes, UnreadableUpstreamResponse } from './classify-upstream-error';
import { UpstreamCallOptions, UpstreamClient, UpstreamResponse } from './upstream-client';

/**
 * The former upstream transport: the official `openai` SDK over an undici agent that owns the
 * connect timeout. The module now uses UndiciUpstreamClient; this one stays for what still reads
 * it: `bench/transport.js` (the "before" figure) and `keepingConnectTimeouts` in the test helpers.
 */
export class OpenAiUpstreamClient implements UpstreamClient {
  private readonly dispatcher: Agent;
  private readonly client: OpenAI;

  constructor(options: ResolvedAiOptions) {
    // First-byte, idle and total limits are the call policy's; the socket only bounds connecting.
    this.dispatcher = new Agent({ connect: { timeout: options.timeouts.connectMs }, headersTimeout: 0, bodyTimeout: 0 });
    this.client = new OpenAI({
      // Never sent: every request carries its own key (see withKey), so that a refused key can be replaced.
      apiKey: 'set-per-request',
      baseURL: options.upstream.baseURL,
      organization: options.upstream.organization ?? null,
      // The SDK would retry every 429, insufficient_quota included: Tollgate's policy retries instead.
      maxRetries: 0,
      timeout: options.timeouts.totalMs,
      fetch: keepingConnectTimeouts(undiciFetch as unknown as typeof fetch),
      fetchOptions: { dispatcher: this.dispatcher } as object,
    });
  }

  async createChatCompletion(
    body: ChatCompletionCreateParamsNonStreaming,
    options: UpstreamCallOptions,
  ): Promise<UpstreamResponse<ChatCompletion>> {
    const { data, request_id } = await readingBody(options, () => this.client.chat.completions.create(body, withKey(options)).withResponse());
    if (!hasArray(data, 'choices')) throw new UnreadableUpstreamResponse();
    return { data, requestId: request_id ?? undefined };
  }

  async streamChatCompletion(
    body: ChatCompletionCreateParamsStreaming,
    options: UpstreamCallOptions,
  ): Promise<UpstreamResponse<AsyncIterable<ChatCompletionChunk>>> {
    const { data, request_id } = await this.client.chat.completions.create(body, withKey(options)).withResponse();
    return { data, requestId: request_id ?? undefined };
  }

  async listModels(options: UpstreamCallOptions): Promise<UpstreamResponse<Model[]>> {
    const { data, request_id } = await readingBody(options, () => this.client.models.list(withKey(options)).withResponse());
    if (!hasArray(data, 'data')) throw new UnreadableUpstreamResponse();
    return { data: data.data, requestId: request_id ?? undefined };
  }

  async close(): Promise<void> {
    await this.dispatcher.destroy();
  }
}

/** Request options that authenticate with the call's own key (request headers override the client's). */
function withKey({ signal, apiKey }: UpstreamCallOptions) {
  return { signal, headers: { Authorization: `Bearer ${apiKey}` } };
}

/**
 * The SDK wraps whatever fails before the answer in its own errors; anything else it throws came
 * from reading the body of a 2xx (JSON cut short, a socket gone mid-body): an upstream failure, not a bug.
 */
async function readingBody<T>({ signal }: UpstreamCallOptions, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof OpenAIError || signal?.aborted) throw error;
    throw new UnreadableUpstreamResponse({ cause: error });
  }
}

/** A 2xx that is not JSON reaches here as a string: the shape is checked as far as callers rely on it. */
function hasArray(data: unknown, field: string): boolean {
  return typeof data === 'object' && data !== null && Array.isArray((data as Record<string, unknown>)[field]);
}

/**
 * undici's connect timeout under words the SDK keeps as a cause: the SDK turns any error whose
 * text matches /timed? ?out/ into a cause-less APIConnectionTimeoutError, which would hide that
 * the connection, not the answer, was late.
 */
export class ConnectLimitExceeded extends Error {
  readonly code = 'UND_ERR_CONNECT_TIMEOUT';
  constructor() {
    super('The connection to the upstream was not established within the connect limit');
    this.name = 'ConnectLimitExceeded';
  }
}

export function keepingConnectTimeouts(fetch: typeof globalThis.fetch): typeof globalThis.fetch {
  return async (input, init) => {
    try {
      return await fetch(input, init);
    } catch (error) {
      if (causeCodes(error).includes('UND_ERR_CONNECT_TIMEOUT')) throw new ConnectLimitExceeded();
      throw error;
    }
  };
}
