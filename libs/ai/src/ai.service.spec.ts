import { AiModuleOptions } from './ai-module-options';
import { AiService, ChatContext } from './ai.service';
import { Governance } from './tenancy/governance';
import type { CallRecord } from './telemetry/call-events';
import { TenantService } from './tenancy/tenant.service';
import { RequestAbortedError, UpstreamTimeoutError, UpstreamUnavailableError } from './errors/ai-errors';
import { BreakerRegistry } from './upstream/breaker-registry';
import { AiMetrics } from './telemetry/ai-metrics';
import { AiTestingModule, createAiTestingModule } from '../test/ai-testing-module';
import { collect, track, useFakeTime } from '../test/async';
import {
  aChatCompletion,
  aChatCompletionChunk,
  aChatRequest,
  aModel,
  anApiError,
  IN_MEMORY_DATABASE,
  UPSTREAM_REQUEST_ID,
} from '../test/factories';
import { fail, FakeUpstreamClient, respond, sdkStream, stream } from '../test/fake-upstream-client';

const PRIMARY = 'gpt-4o';
const FALLBACK = 'gpt-4o-mini';
const context: ChatContext = { tenantId: 'tenant-1', requestId: 'req-gw-1' };
const [hel, lo, bang] = ['Hel', 'lo', '!'].map((content) => aChatCompletionChunk(content));

describe(AiService.name, () => {
  let testing: AiTestingModule;
  let upstream: FakeUpstreamClient;
  let ai: AiService;

  beforeEach(() => useFakeTime());

  afterEach(async () => {
    await testing?.moduleRef.close();
    jest.restoreAllMocks();
    jest.useRealTimers();
  });

  async function setUp(options: Partial<AiModuleOptions> = {}): Promise<void> {
    testing = await createAiTestingModule({ database: IN_MEMORY_DATABASE, ...options });
    ({ upstream, ai } = testing);
    // After compiling: Nest draws its module ids from Math.random. Retry 1 then sleeps 250 ms.
    jest.spyOn(Math, 'random').mockReturnValue(0.5);
  }

  describe('chat', () => {
    it('should send the request unstreamed and return the completion with how it was obtained', async () => {
      await setUp();
      upstream.always(respond(aChatCompletion(), { requestId: UPSTREAM_REQUEST_ID }));

      const result = await ai.chat(aChatRequest({ temperature: 0.2 }), context);

      expect(result).toMatchObject({ completion: aChatCompletion(), model: PRIMARY, attempts: 1, upstreamRequestId: UPSTREAM_REQUEST_ID });
      expect(upstream.calls[0]).toMatchObject({ method: 'createChatCompletion', body: { ...aChatRequest({ temperature: 0.2 }), stream: false } });
    });

    it('should retry a 500 and count both attempts', async () => {
      await setUp();
      upstream.always(fail(anApiError(500)), respond(aChatCompletion()));

      const tracked = track(ai.chat(aChatRequest(), context));
      await jest.advanceTimersByTimeAsync(250);

      expect(tracked.value).toMatchObject({ attempts: 2, model: PRIMARY });
    });

    it('should ask the fallback for its own model and say it answered', async () => {
      await setUp({ fallbackModels: { [PRIMARY]: [FALLBACK] } });
      upstream.script(PRIMARY, fail(anApiError(404))).script(FALLBACK, respond(aChatCompletion({ model: FALLBACK })));

      const result = await ai.chat(aChatRequest(), context);

      expect(result).toMatchObject({ model: FALLBACK, attempts: 2 });
      expect(upstream.calls[1].body).toMatchObject({ model: FALLBACK });
    });
  });

  describe('chatStream', () => {
    const openStream = (ctx: ChatContext = context) => track(ai.chatStream(aChatRequest(), ctx));

    it('should yield the chunks in order, once the first has arrived', async () => {
      await setUp();
      upstream.always(stream([hel, lo, bang], { requestId: UPSTREAM_REQUEST_ID }));

      const opened = await ai.chatStream(aChatRequest(), context);

      expect(opened).toMatchObject({ model: PRIMARY, attempts: 1, upstreamRequestId: UPSTREAM_REQUEST_ID });
      expect(upstream.calls[0]).toMatchObject({ method: 'streamChatCompletion', body: { model: PRIMARY, stream: true } });
      await expect(collect(opened)).resolves.toEqual([hel, lo, bang]);
    });

    it('should end an empty stream at once', async () => {
      await setUp();
      upstream.always(stream([]));

      await expect(collect(await ai.chatStream(aChatRequest(), context))).resolves.toEqual([]);
    });

    it('should retry a stream that fails to open', async () => {
      await setUp();
      upstream.always(fail(anApiError(503)), stream([hel, lo]));

      const tracked = openStream();
      await jest.advanceTimersByTimeAsync(250);

      expect(tracked.value).toMatchObject({ attempts: 2 });
      await expect(collect(tracked.value!)).resolves.toEqual([hel, lo]);
    });

    it('should retry a stream that breaks before its first chunk', async () => {
      await setUp();
      upstream.always(stream([], { then: new TypeError('terminated') }), stream([hel]));

      const tracked = openStream();
      await jest.advanceTimersByTimeAsync(250);

      expect(upstream.calls).toHaveLength(2);
      expect(tracked.value).toMatchObject({ attempts: 2 });
    });

    it('should retry a stream whose first chunk takes longer than firstByteMs, aborting the slow one', async () => {
      await setUp({ timeouts: { firstByteMs: 1_000 } });
      upstream.always(stream([hel], { gapMs: 5_000 }), stream([hel]));

      const tracked = openStream();
      await jest.advanceTimersByTimeAsync(1_000 + 250);

      expect(upstream.signals[0].aborted).toBe(true);
      expect(tracked.value).toMatchObject({ attempts: 2 });
    });

    it('should end a stream silent for longer than streamIdleMs with a stream_idle timeout and abort it', async () => {
      await setUp({ timeouts: { streamIdleMs: 30_000 } });
      upstream.always(stream([hel, lo], { then: 'silence' }));
      const opened = await ai.chatStream(aChatRequest(), context);

      const chunks: unknown[] = [];
      const reading = track((async () => { for await (const chunk of opened) chunks.push(chunk); })());
      await jest.advanceTimersByTimeAsync(29_999);
      expect(reading.settled).toBe(false);

      await jest.advanceTimersByTimeAsync(1);

      expect(chunks).toEqual([hel, lo]);
      expect(reading.error).toBeInstanceOf(UpstreamTimeoutError);
      expect(reading.error).toMatchObject({ timeout: 'stream_idle' });
      expect(upstream.lastSignal.aborted).toBe(true);
    });

    it('should abort the upstream of a stream nobody reads once streamIdleMs has passed', async () => {
      await setUp({ timeouts: { streamIdleMs: 30_000 } });
      upstream.always(stream([hel, lo], { then: 'silence' }));

      await ai.chatStream(aChatRequest(), context);
      await jest.advanceTimersByTimeAsync(29_999);
      expect(upstream.lastSignal.aborted).toBe(false);
      await jest.advanceTimersByTimeAsync(1);

      expect(upstream.lastSignal.reason).toMatchObject({ code: 'request_aborted' });
    });

    it('should abort the upstream of a stream whose reader stops coming back, and free the tenant', async () => {
      await setUp({ timeouts: { streamIdleMs: 30_000 }, plans: { default: { concurrentRequests: 1 } } });
      upstream.always(stream([hel, lo, bang]));
      const opened = await ai.chatStream(aChatRequest(), context);
      const iterator = opened[Symbol.asyncIterator]();
      await iterator.next(); // one chunk read, then the reader walks away without closing

      await jest.advanceTimersByTimeAsync(30_000);
      await testing.moduleRef.get(Governance).drain();

      expect(upstream.lastSignal.reason).toMatchObject({ code: 'request_aborted' });
      await expect(ai.chatStream(aChatRequest(), context)).resolves.toBeDefined();
    });

    it('should let a stream run as long as its chunks keep coming within streamIdleMs, past the total deadline', async () => {
      await setUp({ timeouts: { streamIdleMs: 30_000, totalMs: 60_000 } });
      upstream.always(stream([hel, lo, bang, hel, lo], { gapMs: 20_000 }));

      const tracked = openStream();
      await jest.advanceTimersByTimeAsync(20_000);
      const reading = track(collect(tracked.value!));
      await jest.advanceTimersByTimeAsync(80_000);

      expect(reading.value).toEqual([hel, lo, bang, hel, lo]);
      expect(upstream.lastSignal.aborted).toBe(false);
    });

    it('should abort the upstream when the consumer stops reading early', async () => {
      await setUp();
      upstream.always(stream([hel, lo, bang]));
      const opened = await ai.chatStream(aChatRequest(), context);

      for await (const chunk of opened) {
        expect(chunk).toEqual(hel);
        break;
      }

      expect(upstream.lastSignal.aborted).toBe(true);
    });

    it('should not abort the upstream of a stream read to its end', async () => {
      await setUp();
      upstream.always(stream([hel, lo]));

      await collect(await ai.chatStream(aChatRequest(), context));

      expect(upstream.lastSignal.aborted).toBe(false);
    });

    it('should end the stream with RequestAbortedError and abort the upstream when the caller aborts', async () => {
      await setUp();
      upstream.always(stream([hel], { then: 'silence' }));
      const caller = new AbortController();
      const opened = await ai.chatStream(aChatRequest(), { ...context, signal: caller.signal });

      const reading = track(collect(opened));
      await jest.advanceTimersByTimeAsync(1_000);
      caller.abort();
      await jest.advanceTimersByTimeAsync(0);

      expect(reading.error).toBeInstanceOf(RequestAbortedError);
      expect(upstream.lastSignal.aborted).toBe(true);
    });

    it('should end the stream with RequestAbortedError on cancel()', async () => {
      await setUp();
      upstream.always(stream([hel], { then: 'silence' }));
      const opened = await ai.chatStream(aChatRequest(), context);

      const reading = track(collect(opened));
      await jest.advanceTimersByTimeAsync(0);
      opened.cancel();
      await jest.advanceTimersByTimeAsync(0);

      expect(reading.error).toBeInstanceOf(RequestAbortedError);
      expect(upstream.lastSignal.aborted).toBe(true);
    });

    it('should surface an error in the middle of a stream as stream_interrupted', async () => {
      await setUp();
      upstream.always(stream([hel, lo], { then: new TypeError('terminated') }));
      const opened = await ai.chatStream(aChatRequest(), context);

      const chunks: unknown[] = [];
      const error = await (async () => {
        for await (const chunk of opened) chunks.push(chunk);
      })().then(
        () => undefined,
        (e: unknown) => e,
      );

      expect(chunks).toEqual([hel, lo]);
      expect(error).toBeInstanceOf(UpstreamUnavailableError);
      expect(error).toMatchObject({ reason: 'stream_interrupted' });
      expect(upstream.lastSignal.aborted).toBe(true);
    });

    it("should bill a long prompt's exact tokens when its stream breaks before the usage chunk, not the bound it reserved", async () => {
      const models = { wide: { contextWindow: 1_047_576, maxOutputTokens: 32_768, encoding: 'o200k_base' as const, inputPerMillionUsd: 2, outputPerMillionUsd: 8 } };
      await setUp({ models, plans: { default: { tokensPerMinute: null, tokensPerMonth: null, costPerMonthUsd: null } } });
      upstream.always(stream([hel, lo], { then: new TypeError('terminated') }));
      const request = aChatRequest({ model: 'wide', messages: [{ role: 'user', content: 'lorem ipsum dolor sit amet '.repeat(20_000) }] });
      const ended: CallRecord[] = [];

      const opened = await ai.chatStream(request, { ...context, onCallEnded: (record) => ended.push(record) });
      await collect(opened).catch(() => undefined);

      expect(opened.context.promptCount).toBe('bound');
      expect(ended).toHaveLength(1);
      expect(ended[0].promptTokens).toBe(ai.countTokens(request));
      expect(ended[0].promptTokens).toBeLessThan(opened.context.promptTokens);
    });

    // The openai SDK's Stream ends quietly ({ done: true }) when its request is aborted.
    it('should end a silent SDK stream with a stream_idle timeout, not as if complete', async () => {
      await setUp({ timeouts: { streamIdleMs: 30_000 } });
      upstream.always(sdkStream([hel, lo]));
      const opened = await ai.chatStream(aChatRequest(), context);

      const reading = track(collect(opened));
      await jest.advanceTimersByTimeAsync(30_000);

      expect(reading.error).toMatchObject({ code: 'upstream_timeout', timeout: 'stream_idle' });
    });

    it('should end a cancelled SDK stream with RequestAbortedError, not as if complete', async () => {
      await setUp();
      upstream.always(sdkStream([hel]));
      const opened = await ai.chatStream(aChatRequest(), context);

      const reading = track(collect(opened));
      await jest.advanceTimersByTimeAsync(0);
      opened.cancel();
      await jest.advanceTimersByTimeAsync(0);

      expect(reading.error).toBeInstanceOf(RequestAbortedError);
    });

    it('should retry an SDK stream whose first chunk does not come within firstByteMs', async () => {
      await setUp({ timeouts: { firstByteMs: 1_000 } });
      upstream.always(sdkStream([]), stream([hel]));

      const tracked = openStream();
      await jest.advanceTimersByTimeAsync(1_000 + 250);

      expect(tracked.value).toMatchObject({ attempts: 2 });
      await expect(collect(tracked.value!)).resolves.toEqual([hel]);
    });
  });

  describe('listModels', () => {
    it('should return the upstream\'s models', async () => {
      await setUp();
      upstream.always(respond([aModel('gpt-4o'), aModel('gpt-4o-mini')]));

      await expect(ai.listModels(context)).resolves.toEqual([aModel('gpt-4o'), aModel('gpt-4o-mini')]);
      expect(upstream.calls[0].method).toBe('listModels');
    });

    it('should ask the upstream for the list at most once a minute', async () => {
      await setUp();
      upstream.always(respond([aModel('gpt-4o')]));

      await ai.listModels(context);
      await ai.listModels(context);
      await jest.advanceTimersByTimeAsync(60_000);
      await ai.listModels(context);

      expect(upstream.calls.filter((call) => call.method === 'listModels')).toHaveLength(2);
    });

    it('should never open a breaker, nor show one or a metric of a model, for the model list, whatever the upstream answers it', async () => {
      await setUp({ retry: { maxAttempts: 2, baseDelayMs: 0 }, breaker: { volumeThreshold: 2 } });
      upstream.always(fail(anApiError(500)));

      for (let i = 0; i < 5; i++) {
        const listed = track(ai.listModels(context));
        await jest.advanceTimersByTimeAsync(10_000);
        expect(listed.settled).toBe(true);
      }

      // Each list asked twice (one retry), none refused by an open breaker.
      expect(upstream.calls).toHaveLength(10);
      expect(testing.moduleRef.get(BreakerRegistry).statuses()).toEqual([]);
      expect(await testing.moduleRef.get(AiMetrics).registry.metrics()).not.toContain('GET /models');
    });

    it('should return only the models the tenant\'s plan allows', async () => {
      await setUp({ plans: { narrow: { allowedModels: ['gpt-4o-mini'] } } });
      await testing.moduleRef.get(TenantService).create({ id: 'narrow-tenant', name: 'Narrow', plan: 'narrow' });
      upstream.always(respond([aModel('gpt-4o'), aModel('gpt-4o-mini')]));

      await expect(ai.listModels({ tenantId: 'narrow-tenant' })).resolves.toEqual([aModel('gpt-4o-mini')]);
    });
  });
});
