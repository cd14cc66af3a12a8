import { AiService, ChatContext } from '../ai.service';
import { UpstreamAuthFailedError } from '../errors/ai-errors';
import { AiTestingModule, createAiTestingModule } from '../../test/ai-testing-module';
import { aChatCompletion, aChatRequest, anApiError } from '../../test/factories';
import { FakeSecretProvider } from '../../test/fake-secret-provider';
import { fail, FakeUpstreamClient, respond } from '../../test/fake-upstream-client';
import { fingerprintOf } from './secret-provider';
import { UpstreamPool } from '../upstream/upstream-pool';
import { UpstreamKeyManager } from './upstream-key-manager';

const OLD_KEY = 'sk-old-0000000000000000';
const NEW_KEY = 'sk-new-1111111111111111';
const context: ChatContext = { tenantId: 'tenant-1' };

describe(UpstreamKeyManager.name, () => {
  let testing: AiTestingModule;
  let provider: FakeSecretProvider;
  let upstream: FakeUpstreamClient;
  let ai: AiService;
  let keys: UpstreamKeyManager;

  async function setUp(ttlMs = 300_000): Promise<void> {
    provider = new FakeSecretProvider(OLD_KEY);
    // No database, so no tenant limits: a hundred calls at once must meet nothing but the refused key.
    testing = await createAiTestingModule({ upstream: { secretProvider: provider }, secrets: { ttlMs } });
    ({ upstream, ai } = testing);
    keys = testing.moduleRef.get(UpstreamPool).keys()[0].rotation;
  }

  /** The upstream refuses every key but `accepted`. */
  function upstreamAccepting(accepted: string): void {
    const original = upstream.createChatCompletion.bind(upstream);
    upstream.createChatCompletion = async (body, options) => {
      if (options.apiKey !== accepted) {
        upstream.calls.push({ method: 'createChatCompletion', model: body.model, body, signal: options.signal, apiKey: options.apiKey });
        throw anApiError(401, { code: 'invalid_api_key' });
      }
      return original(body, options);
    };
    upstream.always(respond(aChatCompletion()));
  }

  afterEach(async () => {
    await testing?.moduleRef.close();
    jest.useRealTimers();
  });

  it('should scrub the current and the previous key from text, whatever their shape', async () => {
    const [previous, current] = ['0123456789abcdef0123456789abcdef', 'fedcba9876543210fedcba9876543210'];
    await setUp();
    for (const key of [previous, current]) {
      provider.rotateTo(key);
      await keys.refresh();
    }

    expect(testing.moduleRef.get(UpstreamPool).scrubber.scrub(`refused ${current}, then ${previous}`)).toBe('refused [redacted], then [redacted]');
  });

  it('should read the key once at start-up and authenticate every call with it', async () => {
    await setUp();
    upstream.always(respond(aChatCompletion()));

    await ai.chat(aChatRequest(), context);

    expect(provider.reads).toBe(1);
    expect(upstream.calls[0].apiKey).toBe(OLD_KEY);
  });

  it('should re-read the key after an upstream 401 and retry once with the new one', async () => {
    await setUp();
    upstreamAccepting(NEW_KEY);
    provider.rotateTo(NEW_KEY);

    const result = await ai.chat(aChatRequest(), context);

    expect(result.attempts).toBe(2);
    expect(upstream.calls.map((call) => call.apiKey)).toEqual([OLD_KEY, NEW_KEY]);
    expect(keys.status()).toMatchObject({ fingerprint: fingerprintOf(NEW_KEY), previous: { fingerprint: fingerprintOf(OLD_KEY) } });
  });

  it('should read the store once for 100 concurrent 401s', async () => {
    await setUp();
    upstreamAccepting(NEW_KEY);
    provider.rotateTo(NEW_KEY);

    const results = await Promise.all(Array.from({ length: 100 }, () => ai.chat(aChatRequest(), context)));

    expect(results.every((result) => result.completion.object === 'chat.completion')).toBe(true);
    expect(provider.reads).toBe(2);
  });

  it('should not loop when the store still holds the refused key: one retry at most, then 502-class', async () => {
    await setUp();
    upstreamAccepting('sk-nobody-has-this-key');

    await expect(ai.chat(aChatRequest(), context)).rejects.toBeInstanceOf(UpstreamAuthFailedError);

    expect(upstream.calls).toHaveLength(1);
    expect(provider.reads).toBe(2);
  });

  it('should fall back to the previous key when the new one is not yet valid upstream', async () => {
    await setUp();
    provider.rotateTo(NEW_KEY);
    await keys.refresh();
    upstreamAccepting(OLD_KEY);

    await ai.chat(aChatRequest(), context);

    expect(upstream.calls.map((call) => call.apiKey)).toEqual([NEW_KEY, OLD_KEY]);
  });

  it('should refresh in the background before the TTL runs out', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask'] });
    await setUp(10_000);
    provider.rotateTo(NEW_KEY);

    await jest.advanceTimersByTimeAsync(8_000);

    expect(keys.current()).toBe(NEW_KEY);
  });

  it('should keep serving with the last good key when the store fails, and report the failure', async () => {
    await setUp();
    upstream.always(respond(aChatCompletion()));
    provider.failWith('throttled');

    await expect(keys.refresh()).resolves.toBe('failed');
    await ai.chat(aChatRequest(), context);

    expect(upstream.calls[0].apiKey).toBe(OLD_KEY);
    expect(keys.status()).toMatchObject({ failures: 1, lastError: { failure: 'throttled' } });
    expect(JSON.stringify(keys.status())).not.toContain(OLD_KEY);
  });

  it('should refuse to start when the key cannot be read, naming the store and never a value', async () => {
    provider = new FakeSecretProvider(OLD_KEY);
    provider.failWith('not_found');

    await expect(createAiTestingModule({ upstream: { secretProvider: provider } })).rejects.toThrow(
      /Could not read the upstream key from the fake secret store: simulated not_found/,
    );
  });

  it('should not retry a 401 that a plain failing call never fixes', async () => {
    await setUp();
    upstream.always(fail(anApiError(401)));

    await expect(ai.chat(aChatRequest(), context)).rejects.toBeInstanceOf(UpstreamAuthFailedError);

    expect(upstream.calls).toHaveLength(1);
  });
});
