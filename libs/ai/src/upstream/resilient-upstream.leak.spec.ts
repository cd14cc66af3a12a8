import { getEventListeners } from 'node:events';
import type { ChatCompletion, ChatCompletionChunk } from 'openai/resources/chat/completions';
import { AiModuleOptions } from '../ai-module-options';
import { AiTestingModule, createAiTestingModule } from '../../test/ai-testing-module';
import { collect } from '../../test/async';
import { aChatCompletion, aChatCompletionChunk, anApiError } from '../../test/factories';
import { fail, hang, respond, stream } from '../../test/fake-upstream-client';
import { liveCount } from '../../test/gc';
import { primeStream, PrimedStream, relayStream } from './chat-stream';
import { Attempt, ResilientUpstream } from './resilient-upstream';

const CALLS = 2_000;
/** Calls that each wait out a first-byte timeout: fewer, as each takes real time. */
const SLOW_CALLS = 100;
/** Room for a loaded machine: a test timeout, not an assertion. */
const SLOW_TEST_TIMEOUT_MS = 30_000;

/** Fast retries and first-byte timeouts, an ample retry budget and a breaker that never opens. */
const RETRYING: Partial<AiModuleOptions> = {
  timeouts: { firstByteMs: 2 },
  retry: { baseDelayMs: 1, maxDelayMs: 1 },
  retryBudget: { ratio: 10, minRetriesPerSecond: 1_000 },
  breaker: { volumeThreshold: 1_000_000 },
};

const pendingTimers = () => process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;

describe(`${ResilientUpstream.name} memory`, () => {
  let testing: AiTestingModule;

  afterEach(() => testing?.moduleRef.close());

  /** The fake upstream records every call with its signal. */
  const forgetRecordedCalls = () => (testing.upstream.calls.length = 0);

  it('should keep no attempt signal alive once its call has ended', async () => {
    testing = await createAiTestingModule();
    const signals: WeakRef<AbortSignal>[] = [];
    // Like undici, the transport listens to the attempt's signal and never removes its listener.
    const attempt: Attempt<ChatCompletion> = async (_model, control) => {
      control.signal.addEventListener('abort', () => undefined);
      signals.push(new WeakRef(control.signal));
      return { data: aChatCompletion() };
    };

    for (let i = 0; i < CALLS; i++) await testing.resilient.call('gpt-4o', {}, attempt);

    expect(signals).toHaveLength(CALLS);
    expect(await liveCount(signals)).toBeLessThan(CALLS / 100);
  });

  it('should leave no listener on a long-lived caller signal, no timer and no signal alive, after retries and first-byte timeouts', async () => {
    testing = await createAiTestingModule(RETRYING);
    const appShutdown = new AbortController();
    const signals: WeakRef<AbortSignal>[] = [];
    const attempt: Attempt<ChatCompletion> = (model, control) => {
      control.signal.addEventListener('abort', () => undefined);
      signals.push(new WeakRef(control.signal));
      return testing.upstream.createChatCompletion({ model, messages: [] }, control);
    };
    await testing.resilient.call('gpt-4o', {}, async () => ({ data: aChatCompletion() }));
    const timersBefore = pendingTimers();

    for (let i = 0; i < SLOW_CALLS; i++) {
      testing.upstream.always(fail(anApiError(500)), hang(), respond(aChatCompletion()));
      const outcome = await testing.resilient.call('gpt-4o', { signal: appShutdown.signal }, attempt);
      expect(outcome.attempts).toBe(3);
    }

    expect(getEventListeners(appShutdown.signal, 'abort')).toHaveLength(0);
    // The process's timers are counted, other suites' of this jest worker too, which may come and go meanwhile:
    // a couple of them is that; a timer left behind by each call would be a hundred.
    expect(pendingTimers()).toBeLessThanOrEqual(timersBefore + 2);
    expect(signals).toHaveLength(3 * SLOW_CALLS);
    forgetRecordedCalls();
    expect(await liveCount(signals)).toBeLessThan(SLOW_CALLS / 10);
  }, SLOW_TEST_TIMEOUT_MS);

  it('should leave no listener on a long-lived caller signal and no signal alive after relayed streams, read or dropped', async () => {
    testing = await createAiTestingModule();
    const appShutdown = new AbortController();
    const signals: WeakRef<AbortSignal>[] = [];
    const openStream: Attempt<PrimedStream> = async (model, control) => {
      signals.push(new WeakRef(control.signal));
      const opened = await testing.upstream.streamChatCompletion({ model, messages: [], stream: true }, control);
      return { data: await primeStream(opened.data, control) };
    };
    const chunks = [aChatCompletionChunk('Hel'), aChatCompletionChunk('lo')];
    testing.upstream.always(stream(chunks));

    for (let i = 0; i < CALLS; i++) {
      const { value: primed } = await testing.resilient.call('gpt-4o', { signal: appShutdown.signal }, openStream);
      const relay = relayStream(primed, { idleMs: 30_000, callerSignal: appShutdown.signal, forwardUsage: false, onEnd: () => undefined });
      // Every other stream is left after its first chunk, as by a client that went away.
      if (i % 2 === 0) await collect(relay);
      else await readFirst(relay);
    }

    expect(getEventListeners(appShutdown.signal, 'abort')).toHaveLength(0);
    expect(signals).toHaveLength(CALLS);
    forgetRecordedCalls();
    expect(await liveCount(signals)).toBeLessThan(CALLS / 100);
  });
});

async function readFirst(relay: AsyncIterable<ChatCompletionChunk>): Promise<void> {
  for await (const _chunk of relay) break;
}
