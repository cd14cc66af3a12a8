import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import type { CompletionUsage } from 'openai/resources/completions';
import { isAiError, RequestAbortedError, UpstreamTimeoutError, UpstreamUnavailableError } from '../errors/ai-errors';
import { Watchdog } from '../common/watchdog';
import { AttemptControl } from './resilient-upstream';

/** A streamed chat completion, open and with its first chunk already received. */
export interface ChatStream extends AsyncIterable<ChatCompletionChunk> {
  /** The model that is answering: the requested one or a fallback. */
  readonly model: string;
  /** Upstream calls made before the stream opened, retries and fallbacks included. */
  readonly attempts: number;
  readonly upstreamRequestId?: string;
  /** Cancels the upstream stream; iteration then ends with `RequestAbortedError`. */
  cancel(): void;
}

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
export async function primeStream(
  stream: AsyncIterable<ChatCompletionChunk>,
  control: AttemptControl,
): Promise<PrimedStream> {
  const iterator = stream[Symbol.asyncIterator]();
  return { first: await readNext(iterator, control), iterator, control };
}

export interface PrimedStream {
  first: IteratorResult<ChatCompletionChunk>;
  iterator: AsyncIterator<ChatCompletionChunk>;
  control: AttemptControl;
}

/** How a relayed stream ended: the usage the upstream reported, the text relayed, the error if it failed. */
export interface StreamEnd {
  usage?: CompletionUsage;
  text: string;
  error?: unknown;
}

export interface RelayOptions {
  /** Longest silence between chunks. */
  idleMs: number;
  /** Aborts the upstream stream when it aborts. */
  callerSignal?: AbortSignal;
  /** Whether the usage-only last chunk is relayed (the caller asked for `include_usage`). */
  forwardUsage: boolean;
  /** Called once, however the stream ends, even if it is never read. */
  onEnd(end: StreamEnd): void;
}

/** What a relay has handed its consumer so far: what the call is billed by if its usage never comes. */
interface Relayed {
  text: string;
  usage?: CompletionUsage;
}

/**
 * Relays a primed stream chunk by chunk, pulling the next chunk from the upstream only when the
 * consumer asks for it (a slow reader slows the upstream read down: back-pressure). The upstream is
 * aborted when it goes silent for `idleMs`, when the caller's signal aborts, when the consumer stops
 * early, and when the consumer does not come back for the next chunk within `idleMs` (or never
 * starts reading): a stream left alone must not hold the upstream, the tenant's slot or its reservation.
 */
export function relayStream(primed: PrimedStream, options: RelayOptions): AsyncGenerator<ChatCompletionChunk> {
  const { control } = primed;
  const relayed: Relayed = { text: '' };
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

async function* relay(
  primed: PrimedStream,
  options: RelayOptions,
  relayed: Relayed,
  hooks: { idle: IdleWatch; end(error?: unknown): void },
): AsyncGenerator<ChatCompletionChunk> {
  const { first, iterator, control } = primed;
  const { idle } = hooks;
  idle.watchdog.disarm();
  let next = first;
  let error: unknown;
  try {
    while (!next.done) {
      const chunk = next.value;
      relayed.usage = chunk.usage ?? relayed.usage;
      const usageOnly = chunk.choices.length === 0 && chunk.usage;
      if (!usageOnly || options.forwardUsage) {
        // Counted before it is handed over: a chunk handed to the consumer has been relayed.
        relayed.text += completionTextOf(chunk);
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

async function readNext(
  iterator: AsyncIterator<ChatCompletionChunk>,
  control: AttemptControl,
): Promise<IteratorResult<ChatCompletionChunk>> {
  let next: IteratorResult<ChatCompletionChunk>;
  try {
    next = await iterator.next();
  } catch (error) {
    throw classifyStreamError(control, error);
  }
  // The openai SDK ends an aborted stream quietly: the abort must still surface, as its reason.
  if (control.signal.aborted) throw control.signal.reason;
  return next;
}
