import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import type { CompletionUsage } from 'openai/resources/completions';
import { isAiError, RequestAbortedError, UpstreamTimeoutError, UpstreamUnavailableError } from '../errors/ai-errors';
import { Watchdog } from '../common/watchdog';
import { AttemptControl } from './resilient-upstream';

/** An upstream stream, open and with its first chunk (or event) already received. */
export interface UpstreamStream<T> extends AsyncIterable<T> {
  /** The model that is answering: the requested one or a fallback. */
  readonly model: string;
  /** Upstream calls made before the stream opened, retries and fallbacks included. */
  readonly attempts: number;
  readonly upstreamRequestId?: string;
  /** The name of the upstream that is answering. */
  readonly upstream: string;
  /** Cancels the upstream stream; iteration then ends with `RequestAbortedError`. */
  cancel(): void;
}

/** A streamed chat completion, open and with its first chunk already received. */
export type ChatStream = UpstreamStream<ChatCompletionChunk>;

/**
 * Whatever breaks a stream's read, in the library's taxonomy: an abort is its reason, an SDK
 * HTTP error is classified as usual, and anything else (a dropped socket, an in-stream error
 * event) means the stream was interrupted.
 */
function classifyStreamError(control: AttemptControl, error: unknown): unknown {
  const classified = control.classify(error);
  return isAiError(classified) ? classified : new UpstreamUnavailableError('stream_interrupted', { cause: error });
}

/** Opens an upstream stream and waits for its first chunk, so that the attempt's first-byte timeout covers both. */
export async function primeStream<T = ChatCompletionChunk>(stream: AsyncIterable<T>, control: AttemptControl): Promise<PrimedStream<T>> {
  const iterator = stream[Symbol.asyncIterator]();
  return { first: await readNext(iterator, control), iterator, control };
}

export interface PrimedStream<T = ChatCompletionChunk> {
  first: IteratorResult<T>;
  iterator: AsyncIterator<T>;
  control: AttemptControl;
}

/**
 * How a relayed stream ended: its own account of what it is billed (chat: the usage chunk; the Responses API: its
 * final event), the text relayed, the error if it failed.
 */
export interface StreamEnd<U = CompletionUsage> {
  usage?: U;
  text: string;
  error?: unknown;
}

interface RelayTiming {
  /** Longest silence between chunks. */
  idleMs: number;
  /** Aborts the upstream stream when it aborts. */
  callerSignal?: AbortSignal;
}

export interface RelayOptions extends RelayTiming {
  /** Whether the usage-only last chunk is relayed (the caller asked for `include_usage`). */
  forwardUsage: boolean;
  /** Called once, however the stream ends, even if it is never read. */
  onEnd(end: StreamEnd): void;
}

/** What a relay reads of one kind of stream: which chunks its consumer gets, the text each adds, the one that carries the bill. */
export interface StreamReading<T, U> {
  relays(chunk: T): boolean;
  /** Billed, should the stream break before its account of the bill. */
  textOf(chunk: T): string;
  usageOf(chunk: T): U | undefined;
}

export interface EventRelayOptions<T, U> extends RelayTiming {
  reading: StreamReading<T, U>;
  /** Called once, however the stream ends, even if it is never read. */
  onEnd(end: StreamEnd<U>): void;
}

/** What a relay has handed its consumer so far: what the call is billed by if its usage never comes. */
interface Relayed<U> {
  text: string;
  usage?: U;
}

/** A chat stream: its usage chunk, which has no choices, goes to the consumer only when asked for. */
function chatReading(forwardUsage: boolean): StreamReading<ChatCompletionChunk, CompletionUsage> {
  return {
    relays: (chunk) => forwardUsage || !(chunk.choices.length === 0 && chunk.usage),
    textOf: completionTextOf,
    usageOf: (chunk) => chunk.usage ?? undefined,
  };
}

/**
 * Relays a primed stream chunk by chunk, pulling the next chunk from the upstream only when the
 * consumer asks for it (a slow reader slows the upstream read down: back-pressure). The upstream is
 * aborted when it goes silent for `idleMs`, when the caller's signal aborts, when the consumer stops
 * early, and when the consumer does not come back for the next chunk within `idleMs` (or never
 * starts reading): a stream left alone must not hold the upstream, the tenant's slot or its reservation.
 */
export function relayStream(primed: PrimedStream, options: RelayOptions): AsyncGenerator<ChatCompletionChunk> {
  const { forwardUsage, ...relay } = options;
  return relayEvents(primed, { ...relay, reading: chatReading(forwardUsage) });
}

/** `relayStream` for any kind of stream, read as `options.reading` says. */
export function relayEvents<T, U>(primed: PrimedStream<T>, options: EventRelayOptions<T, U>): AsyncGenerator<T> {
  const { control } = primed;
  const relayed: Relayed<U> = { text: '' };
  const onCallerAbort = () => control.abort(new RequestAbortedError());
  options.callerSignal?.addEventListener('abort', onCallerAbort, { once: true });
  let ended = false;
  const end = (error?: unknown) => {
    if (ended) return;
    ended = true;
    idle.watchdog.stop();
    options.callerSignal?.removeEventListener('abort', onCallerAbort);
    options.onEnd({ usage: relayed.usage, text: relayed.text, error });
  };
  const idle: IdleWatch = {
    waitingFor: 'consumer',
    // One timer for both silences, which never overlap: the consumer's while a chunk waits for it, the upstream's while the relay waits for a chunk.
    watchdog: new Watchdog(options.idleMs, () => {
      if (idle.waitingFor === 'upstream') return control.abort(new UpstreamTimeoutError('stream_idle'));
      const error = new RequestAbortedError();
      control.abort(error);
      end(error);
    }),
  };
  waitFor(idle, 'consumer');
  return relay(primed, options, relayed, { idle, end });
}

/** The relay's one idle timer, and whose silence it is timing. */
interface IdleWatch {
  waitingFor: 'consumer' | 'upstream';
  readonly watchdog: Watchdog;
}

function waitFor(idle: IdleWatch, party: IdleWatch['waitingFor']): void {
  idle.waitingFor = party;
  idle.watchdog.arm();
}

async function* relay<T, U>(
  primed: PrimedStream<T>,
  { reading }: EventRelayOptions<T, U>,
  relayed: Relayed<U>,
  hooks: { idle: IdleWatch; end(error?: unknown): void },
): AsyncGenerator<T> {
  const { first, iterator, control } = primed;
  const { idle } = hooks;
  idle.watchdog.disarm();
  let next = first;
  let error: unknown;
  try {
    while (!next.done) {
      const chunk = next.value;
      relayed.usage = reading.usageOf(chunk) ?? relayed.usage;
      if (reading.relays(chunk)) {
        // Counted before it is handed over: a chunk handed to the consumer has been relayed.
        relayed.text += reading.textOf(chunk);
        waitFor(idle, 'consumer');
        yield chunk;
        idle.watchdog.disarm();
      }
      waitFor(idle, 'upstream');
      next = await readNext(iterator, control);
      idle.watchdog.disarm();
    }
  } catch (failure) {
    error = failure;
    throw failure;
  } finally {
    idle.watchdog.stop();
    // Stopped early (the consumer went away) or failed: make sure the upstream request is cancelled.
    if (!next.done) control.abort(new RequestAbortedError());
    hooks.end(error ?? (next.done ? undefined : new RequestAbortedError()));
  }
}

/** Everything a chunk adds to the completion, in every choice: content, refusal, tool calls. */
function completionTextOf(chunk: ChatCompletionChunk): string {
  let text = '';
  for (const { delta } of chunk.choices) {
    text += (delta?.content ?? '') + (delta?.refusal ?? '');
    for (const call of delta?.tool_calls ?? []) text += (call.function?.name ?? '') + (call.function?.arguments ?? '');
  }
  return text;
}

async function readNext<T>(iterator: AsyncIterator<T>, control: AttemptControl): Promise<IteratorResult<T>> {
  let next: IteratorResult<T>;
  try {
    next = await iterator.next();
  } catch (error) {
    throw classifyStreamError(control, error);
  }
  // The openai SDK ends an aborted stream quietly: the abort must still surface, as its reason.
  if (control.signal.aborted) throw control.signal.reason;
  return next;
}
