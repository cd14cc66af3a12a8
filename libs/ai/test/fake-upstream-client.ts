import { APIUserAbortError } from 'openai';
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
import { UpstreamCallOptions, UpstreamClient, UpstreamResponse } from '../src/upstream/upstream-client';
import { openStreamThroughSdk } from './sdk-fake-fetch';

/** How an open stream goes on after its chunks: it ends, stays silent until aborted, or fails. */
export type StreamEnd = 'end' | 'silence' | Error;

/** One scripted answer of the fake upstream. */
export type Step =
  | { kind: 'respond'; data: unknown; afterMs: number; requestId?: string }
  | { kind: 'fail'; error: unknown; afterMs: number }
  | { kind: 'hang' }
  | { kind: 'stream'; chunks: ReadonlyArray<ChatCompletionChunk | ResponseStreamEvent>; then: StreamEnd; gapMs: number; requestId?: string }
  | { kind: 'sdk_stream'; chunks: ChatCompletionChunk[] };

export const respond = (data: unknown, options: { afterMs?: number; requestId?: string } = {}): Step => ({
  kind: 'respond',
  data,
  afterMs: options.afterMs ?? 0,
  requestId: options.requestId,
});

export const fail = (error: unknown, options: { afterMs?: number } = {}): Step => ({ kind: 'fail', error, afterMs: options.afterMs ?? 0 });

/** Never answers; rejects like the SDK (`APIUserAbortError`) once the call's signal aborts. */
export const hang = (): Step => ({ kind: 'hang' });

/** Opens a stream at once; each chunk comes `gapMs` after the previous one. */
export const stream = (
  chunks: ChatCompletionChunk[],
  options: { then?: StreamEnd; gapMs?: number; requestId?: string } = {},
): Step => ({ kind: 'stream', chunks, then: options.then ?? 'end', gapMs: options.gapMs ?? 0, requestId: options.requestId });

/** A Responses API stream of `events`, opened at once, as `stream` opens a chat one. */
export const responseEvents = (
  events: ResponseStreamEvent[],
  options: { then?: StreamEnd; gapMs?: number; requestId?: string } = {},
): Step => ({ kind: 'stream', chunks: events, then: options.then ?? 'end', gapMs: options.gapMs ?? 0, requestId: options.requestId });

/** A stream served through the real `openai` SDK (SSE over a fake fetch) that stays silent after `chunks`. */
export const sdkStream = (chunks: ChatCompletionChunk[]): Step => ({ kind: 'sdk_stream', chunks });

export interface RecordedCall {
  method: 'createChatCompletion' | 'streamChatCompletion' | 'listModels' | 'createEmbeddings' | 'createResponse' | 'streamResponse';
  model?: string;
  body?: ChatCompletionCreateParamsNonStreaming | ChatCompletionCreateParamsStreaming;
  /** The body of an embeddings or Responses API call. */
  endpointBody?: EmbeddingCreateParams | ResponseCreateParamsNonStreaming | ResponseCreateParamsStreaming;
  signal: AbortSignal;
  /** The upstream key the call authenticated with. */
  apiKey: string;
}

const ANY_MODEL = '*';

/**
 * An upstream that answers from a script per model, one step per call, the last step
 * repeating; it records every call with the AbortSignal it received.
 */
export class FakeUpstreamClient implements UpstreamClient {
  readonly calls: RecordedCall[] = [];
  private readonly scripts = new Map<string, Step[]>();

  /** Scripts the answers for `model` (`'*'`: any model without a script of its own). */
  script(model: string, ...steps: Step[]): this {
    this.scripts.set(model, steps);
    return this;
  }

  always(...steps: Step[]): this {
    return this.script(ANY_MODEL, ...steps);
  }

  get models(): (string | undefined)[] {
    return this.calls.map((call) => call.model);
  }

  get signals(): AbortSignal[] {
    return this.calls.map((call) => call.signal);
  }

  get lastSignal(): AbortSignal {
    const last = this.calls.at(-1);
    if (!last) throw new Error('The fake upstream was never called.');
    return last.signal;
  }

  async createChatCompletion(
    body: ChatCompletionCreateParamsNonStreaming,
    { signal, apiKey }: UpstreamCallOptions,
  ): Promise<UpstreamResponse<ChatCompletion>> {
    this.calls.push({ method: 'createChatCompletion', model: body.model, body, signal, apiKey });
    return this.answer(this.nextStep(body.model), signal) as Promise<UpstreamResponse<ChatCompletion>>;
  }

  async streamChatCompletion(
    body: ChatCompletionCreateParamsStreaming,
    { signal, apiKey }: UpstreamCallOptions,
  ): Promise<UpstreamResponse<AsyncIterable<ChatCompletionChunk>>> {
    this.calls.push({ method: 'streamChatCompletion', model: body.model, body, signal, apiKey });
    const step = this.nextStep(body.model);
    if (step.kind === 'stream') return { data: fakeStream(step.chunks as ChatCompletionChunk[], step.then, step.gapMs, signal), requestId: step.requestId };
    if (step.kind === 'sdk_stream') return openStreamThroughSdk(step.chunks, signal);
    return this.answer(step, signal) as Promise<UpstreamResponse<AsyncIterable<ChatCompletionChunk>>>;
  }

  async listModels({ signal, apiKey }: UpstreamCallOptions): Promise<UpstreamResponse<Model[]>> {
    this.calls.push({ method: 'listModels', signal, apiKey });
    return this.answer(this.nextStep(ANY_MODEL), signal) as Promise<UpstreamResponse<Model[]>>;
  }

  async createEmbeddings(body: EmbeddingCreateParams, { signal, apiKey }: UpstreamCallOptions): Promise<UpstreamResponse<CreateEmbeddingResponse>> {
    this.calls.push({ method: 'createEmbeddings', model: body.model, endpointBody: body, signal, apiKey });
    return this.answer(this.nextStep(body.model), signal) as Promise<UpstreamResponse<CreateEmbeddingResponse>>;
  }

  async createResponse(body: ResponseCreateParamsNonStreaming & { model: string }, { signal, apiKey }: UpstreamCallOptions): Promise<UpstreamResponse<Response>> {
    this.calls.push({ method: 'createResponse', model: body.model, endpointBody: body, signal, apiKey });
    return this.answer(this.nextStep(body.model), signal) as Promise<UpstreamResponse<Response>>;
  }

  async streamResponse(
    body: ResponseCreateParamsStreaming & { model: string },
    { signal, apiKey }: UpstreamCallOptions,
  ): Promise<UpstreamResponse<AsyncIterable<ResponseStreamEvent>>> {
    this.calls.push({ method: 'streamResponse', model: body.model, endpointBody: body, signal, apiKey });
    const step = this.nextStep(body.model);
    if (step.kind === 'stream') return { data: fakeStream(step.chunks as ResponseStreamEvent[], step.then, step.gapMs, signal), requestId: step.requestId };
    return this.answer(step, signal) as Promise<UpstreamResponse<AsyncIterable<ResponseStreamEvent>>>;
  }

  private nextStep(model: string): Step {
    const steps = this.scripts.get(model) ?? this.scripts.get(ANY_MODEL);
    if (!steps?.length) throw new Error(`The fake upstream has no script for model '${model}'.`);
    return steps.length > 1 ? steps.shift()! : steps[0];
  }

  private async answer(step: Step, signal: AbortSignal): Promise<UpstreamResponse<unknown>> {
    switch (step.kind) {
      case 'respond':
        await waitOrAbort(step.afterMs, signal, () => new APIUserAbortError());
        return { data: step.data, requestId: step.requestId };
      case 'fail':
        await waitOrAbort(step.afterMs, signal, () => new APIUserAbortError());
        throw step.error;
      case 'hang':
        return waitOrAbort(Infinity, signal, () => new APIUserAbortError()).then(() => ({ data: undefined }));
      default:
        throw new Error(`A '${step.kind}' step only answers streamChatCompletion.`);
    }
  }
}

/** A response body's reader: each chunk after `gapMs`; an abort errors it with an AbortError, as fetch does. */
async function* fakeStream<T>(chunks: T[], then: StreamEnd, gapMs: number, signal: AbortSignal): AsyncGenerator<T> {
  for (const chunk of chunks) {
    await waitOrAbort(gapMs, signal, abortError);
    yield chunk;
  }
  if (then === 'silence') await waitOrAbort(Infinity, signal, abortError);
  else if (then instanceof Error) throw then;
}

const abortError = (): Error => new DOMException('This operation was aborted', 'AbortError');

function waitOrAbort(ms: number, signal: AbortSignal, onAbort: () => unknown): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(onAbort());
    if (ms === 0) return resolve();
    const timer = Number.isFinite(ms) ? setTimeout(done, ms) : undefined;
    signal.addEventListener('abort', aborted, { once: true });
    function done() {
      signal.removeEventListener('abort', aborted);
      resolve();
    }
    function aborted() {
      clearTimeout(timer);
      reject(onAbort());
    }
  });
}
