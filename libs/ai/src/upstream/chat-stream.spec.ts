import { getEventListeners } from 'node:events';
import { RequestAbortedError, UpstreamTimeoutError } from '../errors/ai-errors';
import { collect, track, useFakeTime } from '../../test/async';
import { aChatCompletionChunk } from '../../test/factories';
import { FakeUpstreamClient, stream, StreamEnd } from '../../test/fake-upstream-client';
import { primeStream, relayStream, StreamEnd as RelayEnd } from './chat-stream';
import { AttemptControl } from './resilient-upstream';

const IDLE_MS = 30_000;
const [hel, lo] = [aChatCompletionChunk('Hel'), aChatCompletionChunk('lo')];

function anAttemptControl(): AttemptControl {
  const controller = new AbortController();
  const { signal } = controller;
  return { signal, apiKey: 'sk-test', upstream: { name: 'openai', kind: 'openai', baseURL: 'http://upstream.test/v1' }, abort: (reason) => controller.abort(reason), classify: (error) => (signal.aborted ? signal.reason : error) };
}

describe(relayStream.name, () => {
  beforeEach(() => useFakeTime());
  afterEach(() => jest.useRealTimers());

  async function aRelay(then: StreamEnd, callerSignal?: AbortSignal) {
    const control = anAttemptControl();
    const opened = await new FakeUpstreamClient().always(stream([hel, lo], { then })).streamChatCompletion({ model: 'gpt-4o', messages: [], stream: true }, control);
    const ends: RelayEnd[] = [];
    const relay = relayStream(await primeStream(opened.data, control), { idleMs: IDLE_MS, callerSignal, forwardUsage: false, onEnd: (end) => ends.push(end) });
    return { relay, control, ends };
  }

  it('should time the upstream and the consumer with one timer, and leave none', async () => {
    const caller = new AbortController();
    const { relay, ends } = await aRelay('end', caller.signal);
    const timers = [jest.getTimerCount()];

    const first = await relay.next();
    timers.push(jest.getTimerCount());
    await relay.next();
    timers.push(jest.getTimerCount());
    await expect(relay.next()).resolves.toMatchObject({ done: true });

    expect(first.value).toEqual(hel);
    expect(timers).toEqual([1, 1, 1]);
    expect(jest.getTimerCount()).toBe(0);
    expect(ends).toEqual([{ text: 'Hello', usage: undefined, error: undefined }]);
    expect(getEventListeners(caller.signal, 'abort')).toHaveLength(0);
  });

  it('should end with a stream_idle timeout when the upstream is silent for idleMs while the consumer waits', async () => {
    const { relay, control } = await aRelay('silence');

    const reading = track(collect(relay));
    await jest.advanceTimersByTimeAsync(IDLE_MS - 1);
    expect(reading.settled).toBe(false);
    await jest.advanceTimersByTimeAsync(1);

    expect(reading.error).toBeInstanceOf(UpstreamTimeoutError);
    expect(reading.error).toMatchObject({ timeout: 'stream_idle' });
    expect(control.signal.aborted).toBe(true);
  });

  it('should abort the upstream and end when the consumer does not come back for idleMs', async () => {
    const { relay, control, ends } = await aRelay('silence');
    await relay.next();

    await jest.advanceTimersByTimeAsync(IDLE_MS - 1);
    expect(control.signal.aborted).toBe(false);
    await jest.advanceTimersByTimeAsync(1);

    expect(control.signal.reason).toBeInstanceOf(RequestAbortedError);
    expect(ends).toHaveLength(1);
    expect(ends[0].error).toBeInstanceOf(RequestAbortedError);
    expect(jest.getTimerCount()).toBe(0);
  });
});
