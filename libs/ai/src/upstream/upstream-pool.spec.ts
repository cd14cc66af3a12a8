import type { ChatCompletion, ChatCompletionCreateParamsNonStreaming } from 'openai/resources/chat/completions';
import { AiModuleOptions } from '../ai-module-options';
import { UpstreamAuthFailedError, UpstreamQuotaExhaustedError, UpstreamRateLimitedError, UpstreamUnavailableError } from '../errors/ai-errors';
import { AiTestingModule, createAiTestingModule } from '../../test/ai-testing-module';
import { track, useFakeTime } from '../../test/async';
import { aChatCompletion, anApiError, anInsufficientQuotaError, aRateLimitError } from '../../test/factories';
import { FakeSecretProvider } from '../../test/fake-secret-provider';
import { fail, FakeUpstreamClient, respond, Step } from '../../test/fake-upstream-client';
import { Attempt } from './resilient-upstream';
import { UpstreamCallOptions, UpstreamResponse } from './upstream-client';
import { AiMetrics } from '../telemetry/ai-metrics';
import { UpstreamPool } from './upstream-pool';
import { PoolUpstreamOptions } from './upstream-pool-options';

const MODEL = 'gpt-4o';

/** An upstream that answers each key (and each upstream) from a script of its own. */
class KeyedUpstream extends FakeUpstreamClient {
  private readonly byKey = new Map<string, FakeUpstreamClient>();
  readonly answered: { upstream: string; apiKey: string }[] = [];

  /** Scripts the answers to calls with `apiKey`; other keys get the script of `always`. */
  forKey(apiKey: string, ...steps: Step[]): this {
    this.byKey.set(apiKey, new FakeUpstreamClient().always(...steps));
    return this;
  }

  override async createChatCompletion(body: ChatCompletionCreateParamsNonStreaming, options: UpstreamCallOptions): Promise<UpstreamResponse<ChatCompletion>> {
    this.answered.push({ upstream: options.upstream.name, apiKey: options.apiKey });
    const own = this.byKey.get(options.apiKey);
    return own ? own.createChatCompletion(body, options) : super.createChatCompletion(body, options);
  }

  callsWith(apiKey: string): number {
    return this.answered.filter((call) => call.apiKey === apiKey).length;
  }
}

describe(UpstreamPool.name, () => {
  let testing: AiTestingModule;
  let upstream: KeyedUpstream;

  beforeEach(() => useFakeTime());
  afterEach(async () => {
    await testing?.moduleRef.close();
    jest.restoreAllMocks();
    jest.useRealTimers();
  });

  async function setUp(upstreams: PoolUpstreamOptions[], options: Partial<AiModuleOptions> = {}): Promise<KeyedUpstream> {
    upstream = new KeyedUpstream();
    upstream.always(respond(aChatCompletion()));
    testing = await createAiTestingModule({ upstream: undefined, upstreams, ...options }, upstream);
    jest.spyOn(Math, 'random').mockReturnValue(0.5);
    return upstream;
  }

  const oneUpstream = (...keys: { apiKey: string; weight?: number; name?: string; expect?: { organization?: string; project?: string } }[]): PoolUpstreamOptions[] => [
    { name: 'openai-main', baseURL: 'http://openai.test/v1', keys },
  ];

  const attempt: Attempt<ChatCompletion> = (model, control) => upstream.createChatCompletion({ model, messages: [{ role: 'user', content: 'Hi' }] }, control);

  async function call(model = MODEL) {
    const tracked = track(testing.resilient.call(model, {}, attempt));
    await jest.advanceTimersByTimeAsync(0);
    return tracked;
  }

  const pool = () => testing.moduleRef.get(UpstreamPool);
  const stateOf = (key: string) => pool().statuses().find((status) => status.key === key);

  describe('key selection', () => {
    it('should share calls by weight, 2 to 1', async () => {
      await setUp(oneUpstream({ name: 'a', apiKey: 'sk-a', weight: 2 }, { name: 'b', apiKey: 'sk-b' }));

      for (let i = 0; i < 30; i++) expect((await call()).value).toBeDefined();

      expect(upstream.callsWith('sk-a')).toBe(20);
      expect(upstream.callsWith('sk-b')).toBe(10);
    });

    it('should prefer the key with fewer calls in flight among keys of equal weight', async () => {
      await setUp(oneUpstream({ name: 'a', apiKey: 'sk-a' }, { name: 'b', apiKey: 'sk-b' }));
      const [a] = pool().keys();
      a.inFlight = 3;

      await call();

      expect(upstream.answered.map((each) => each.apiKey)).toEqual(['sk-b']);
    });
  });

  describe('a key rate limited by the upstream', () => {
    it('should move the call to another key at once, calling the limited key exactly once, and rest it until its Retry-After', async () => {
      await setUp(oneUpstream({ name: 'a', apiKey: 'sk-a' }, { name: 'b', apiKey: 'sk-b' }));
      upstream.forKey('sk-a', fail(aRateLimitError({ 'retry-after': '20' })));

      const tracked = await call();

      expect(tracked.value?.attempts).toBe(2);
      expect(upstream.answered.map((each) => each.apiKey)).toEqual(['sk-a', 'sk-b']);
      expect(stateOf('a')).toMatchObject({ state: 'resting' });
      // While it rests, every call goes to the other key.
      for (let i = 0; i < 4; i++) await call();
      expect(upstream.callsWith('sk-a')).toBe(1);
      expect(testing.budget.snapshot().retries).toBe(1);
      expect(testing.breakers.forModel(MODEL, 'openai-main').state()).toBe('closed');
    });

    it('should rest the key for that model only, as OpenAI limits each model apart', async () => {
      await setUp(oneUpstream({ name: 'a', apiKey: 'sk-a' }));
      upstream.forKey('sk-a', fail(aRateLimitError({ 'retry-after': '20' })), respond(aChatCompletion()));
      await call();

      const other = await call('gpt-4o-mini');

      expect(other.value?.model).toBe('gpt-4o-mini');
      expect(upstream.callsWith('sk-a')).toBe(2);
    });

    it('should take it back once its Retry-After has passed', async () => {
      await setUp(oneUpstream({ name: 'a', apiKey: 'sk-a' }, { name: 'b', apiKey: 'sk-b' }));
      upstream.forKey('sk-a', fail(aRateLimitError({ 'retry-after': '20' })), respond(aChatCompletion()));
      await call();

      await jest.advanceTimersByTimeAsync(20_000);

      expect(stateOf('a')).toMatchObject({ state: 'ready' });
      await call();
      await call();
      expect(upstream.callsWith('sk-a')).toBe(2);
    });

    it('should answer 503 with the shortest Retry-After, without calling the upstream, while every key rests', async () => {
      await setUp(oneUpstream({ name: 'a', apiKey: 'sk-a' }, { name: 'b', apiKey: 'sk-b' }));
      upstream.forKey('sk-a', fail(aRateLimitError({ 'retry-after': '40' })));
      upstream.forKey('sk-b', fail(aRateLimitError({ 'retry-after': '30' })));
      await call();
      const before = upstream.answered.length;

      const { error } = await call();

      expect(upstream.answered).toHaveLength(before);
      expect(error).toBeInstanceOf(UpstreamRateLimitedError);
      expect((error as UpstreamRateLimitedError).retryAfterMs).toBe(30_000);
    });

    it('should still be refused by the retry budget, as a retry would', async () => {
      await setUp(oneUpstream({ name: 'a', apiKey: 'sk-a' }, { name: 'b', apiKey: 'sk-b' }), { retryBudget: { ratio: 0, minRetriesPerSecond: 0 } });
      upstream.forKey('sk-a', fail(aRateLimitError({ 'retry-after': '20' })));

      const { error } = await call();

      expect(error).toMatchObject({ reason: 'retry_budget_exhausted' });
      expect(upstream.callsWith('sk-b')).toBe(0);
    });
  });

  describe('a key rate limited for the requested model, and a fallback', () => {
    it('should serve the call from the fallback model through the same key', async () => {
      await setUp(oneUpstream({ name: 'a', apiKey: 'sk-a' }), { fallbackModels: { [MODEL]: ['gpt-4o-mini'] } });
      upstream.forKey('sk-a', fail(aRateLimitError({ 'retry-after': '120' })), respond(aChatCompletion()));

      const tracked = await call();

      expect(tracked.value).toMatchObject({ model: 'gpt-4o-mini', attempts: 2 });
    });
  });

  describe('a key the upstream refuses (401)', () => {
    it('should move the call to the other key, take the refused one out and stop calling it', async () => {
      await setUp(oneUpstream({ name: 'a', apiKey: 'sk-a' }, { name: 'b', apiKey: 'sk-b' }));
      await testing.moduleRef.init(); // the metrics listen from init on
      upstream.forKey('sk-a', fail(anApiError(401, { code: 'invalid_api_key' })));

      for (let i = 0; i < 6; i++) expect((await call()).value).toBeDefined();

      expect(upstream.callsWith('sk-a')).toBe(1);
      expect(stateOf('a')).toMatchObject({ state: 'out', out: { reason: 'refused' } });
      const gauge = await testing.moduleRef.get(AiMetrics).registry.getSingleMetricAsString('tollgate_upstream_key_out');
      expect(gauge).toContain('tollgate_upstream_key_out{upstream="openai-main",key="a",reason="refused"} 1');
    });

    it('should let one call probe it after the reset period, and bring it back when the probe passes', async () => {
      await setUp(oneUpstream({ name: 'a', apiKey: 'sk-a' }), { breaker: { resetTimeoutMs: 30_000 } });
      upstream.forKey('sk-a', fail(anApiError(401, { code: 'invalid_api_key' })), fail(anApiError(500)), respond(aChatCompletion()));
      expect((await call()).error).toBeInstanceOf(UpstreamAuthFailedError);
      expect((await call()).error).toBeInstanceOf(UpstreamAuthFailedError);
      expect(upstream.callsWith('sk-a')).toBe(1);

      // The first probe fails (a 500): the next one waits another reset period.
      await jest.advanceTimersByTimeAsync(30_000);
      const failedProbe = track(testing.resilient.call(MODEL, {}, attempt));
      await jest.advanceTimersByTimeAsync(10_000);
      expect(failedProbe.error).toBeDefined();
      const probes = upstream.callsWith('sk-a');
      await call();
      expect(upstream.callsWith('sk-a')).toBe(probes);

      await jest.advanceTimersByTimeAsync(30_000);
      expect((await call()).value).toBeDefined();
      expect(stateOf('a')).toMatchObject({ state: 'ready' });
    });
  });

  describe('a key out of credit', () => {
    it('should take that key out, keep serving from the others and open no breaker', async () => {
      await setUp(oneUpstream({ name: 'a', apiKey: 'sk-a' }, { name: 'b', apiKey: 'sk-b' }));
      upstream.forKey('sk-a', fail(anInsufficientQuotaError()));

      const first = await call();
      for (let i = 0; i < 3; i++) await call('gpt-4o-mini');

      expect(first.value?.attempts).toBe(2);
      expect(upstream.callsWith('sk-a')).toBe(1);
      expect(stateOf('a')).toMatchObject({ state: 'out', out: { reason: 'insufficient_quota' } });
      expect(testing.breakers.statuses().every((breaker) => breaker.state === 'closed')).toBe(true);
    });

    it('should come back when an operator refreshes the keys', async () => {
      await setUp(oneUpstream({ name: 'a', apiKey: 'sk-a' }));
      upstream.forKey('sk-a', fail(anInsufficientQuotaError()), respond(aChatCompletion()));
      expect((await call()).error).toBeInstanceOf(UpstreamQuotaExhaustedError);

      await pool().refreshAll();

      expect(stateOf('a')).toMatchObject({ state: 'ready' });
      expect((await call()).value).toBeDefined();
    });
  });

  describe('several upstreams', () => {
    const two: PoolUpstreamOptions[] = [
      { name: 'openai-main', baseURL: 'http://openai.test/v1', keys: [{ apiKey: 'sk-openai' }] },
      { name: 'azure-eastus', kind: 'azure', baseURL: 'http://azure.test/openai/v1', keys: [{ apiKey: 'azure-key' }] },
    ];

    it('should send every call to the first upstream of the route while it serves', async () => {
      await setUp(two);

      await call();
      await call();

      expect(upstream.answered.map((each) => each.upstream)).toEqual(['openai-main', 'openai-main']);
    });

    it('should retry a call that the first upstream failed on the next one', async () => {
      await setUp(two);
      upstream.forKey('sk-openai', fail(anApiError(500)));

      const tracked = track(testing.resilient.call(MODEL, {}, attempt));
      await jest.advanceTimersByTimeAsync(10_000);

      expect(tracked.value?.upstream).toBe('azure-eastus');
      expect(upstream.answered).toEqual([
        { upstream: 'openai-main', apiKey: 'sk-openai' },
        { upstream: 'azure-eastus', apiKey: 'azure-key' },
      ]);
    });

    it('should send new calls to the next upstream while the first one\'s breaker is open', async () => {
      await setUp(two, { breaker: { volumeThreshold: 2, resetTimeoutMs: 30_000 }, retry: { maxAttempts: 1 } });
      upstream.forKey('sk-openai', fail(anApiError(500)));
      await call();
      await call();
      expect(testing.breakers.forModel(MODEL, 'openai-main').state()).toBe('open');

      const served = await call();

      expect(served.value?.upstream).toBe('azure-eastus');
      expect(upstream.answered.at(-1)).toEqual({ upstream: 'azure-eastus', apiKey: 'azure-key' });
    });

    it('should follow the route of a model', async () => {
      await setUp(two, { routes: { [MODEL]: ['azure-eastus', 'openai-main'] } });

      await call();
      await call('gpt-4o-mini');

      expect(upstream.answered.map((each) => each.upstream)).toEqual(['azure-eastus', 'openai-main']);
    });

    it('should refuse the call with the open breaker\'s wait when every upstream of the route is open', async () => {
      await setUp(two, { breaker: { volumeThreshold: 1, resetTimeoutMs: 30_000 }, retry: { maxAttempts: 1 } });
      upstream.always(fail(anApiError(500)));
      await call();
      await call();

      const { error } = await call();

      expect(error).toBeInstanceOf(UpstreamUnavailableError);
      expect(error).toMatchObject({ reason: 'circuit_open' });
    });
  });

  describe('the wrong-key guard', () => {
    it('should take a key out at once when it answers for another project, and serve from the others', async () => {
      await setUp(oneUpstream({ name: 'a', apiKey: 'sk-a', expect: { organization: 'org-prod', project: 'proj_prod' } }, { name: 'b', apiKey: 'sk-b' }));
      jest.spyOn(upstream, 'createChatCompletion').mockImplementation(async (_body, options) => {
        upstream.answered.push({ upstream: options.upstream.name, apiKey: options.apiKey });
        return { data: aChatCompletion(), account: { organization: 'org-prod', project: options.apiKey === 'sk-a' ? 'proj_dev' : 'proj_prod' } };
      });

      await call();
      for (let i = 0; i < 4; i++) await call();

      expect(upstream.callsWith('sk-a')).toBe(1);
      expect(stateOf('a')).toMatchObject({ state: 'out', out: { reason: 'wrong_account', detail: 'it answers for project proj_dev, not proj_prod' } });
    });

    it('should bring the key back once its secret changes, whoever read it', async () => {
      const secret = new FakeSecretProvider('sk-dev');
      await setUp([{ name: 'openai-main', baseURL: 'http://openai.test/v1', keys: [{ name: 'a', secretProvider: secret, expect: { project: 'proj_prod' } }] }]);
      jest.spyOn(upstream, 'createChatCompletion').mockImplementation(async (_body, options) => ({
        data: aChatCompletion(),
        account: { project: options.apiKey === 'sk-dev' ? 'proj_dev' : 'proj_prod' },
      }));
      await call();
      expect(stateOf('a')).toMatchObject({ state: 'out', out: { reason: 'wrong_account' } });

      secret.rotateTo('sk-prod');
      await pool().keys()[0].rotation.refresh();

      expect(stateOf('a')).toMatchObject({ state: 'ready' });
      expect((await call()).value).toBeDefined();
    });

    it('should refuse calls with upstream_auth_failed once the only key answered for the wrong organization', async () => {
      await setUp(oneUpstream({ name: 'a', apiKey: 'sk-a', expect: { organization: 'org-prod' } }));
      jest.spyOn(upstream, 'createChatCompletion').mockResolvedValue({ data: aChatCompletion(), account: { organization: 'org-dev' } });
      await call();

      const { error } = await call();

      expect(error).toBeInstanceOf(UpstreamAuthFailedError);
    });
  });
});
