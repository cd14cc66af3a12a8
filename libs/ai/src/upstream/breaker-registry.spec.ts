import { BreakerOptions } from '../ai-module-options';
import { SystemClock } from '../common/clock';
import {
  ContextLengthExceededError,
  RequestAbortedError,
  UpstreamBadRequestError,
  UpstreamTimeoutError,
  UpstreamUnavailableError,
} from '../errors/ai-errors';
import { useFakeTime } from '../../test/async';
import { resolvedOptions } from '../../test/factories';
import { BreakerRegistry, ModelBreaker } from './breaker-registry';

const BASE_URL = 'http://upstream.test/v1';
const MODEL = 'gpt-4o';
const RESET_MS = 30_000;

describe(BreakerRegistry.name, () => {
  let registry: BreakerRegistry;

  beforeEach(() => useFakeTime());

  afterEach(() => {
    registry.shutdown();
    jest.useRealTimers();
  });

  // Jest's fake timers fake Date too, so the system clock follows opossum's reset timer.
  const aRegistry = (breaker: Partial<BreakerOptions> = {}) => {
    const options = resolvedOptions({ upstream: { apiKey: 'sk-test', baseURL: BASE_URL }, breaker: { volumeThreshold: 4, resetTimeoutMs: RESET_MS, ...breaker } });
    return (registry = new BreakerRegistry(options.upstreams, options.breaker, new SystemClock()));
  };

  const transient = () => new UpstreamUnavailableError('upstream_error');
  const succeed = () => Promise.resolve('ok');

  async function failTimes(breaker: ModelBreaker, times: number, error: () => unknown = transient): Promise<void> {
    for (let i = 0; i < times; i++) await breaker.fire(() => Promise.reject(error())).catch(() => undefined);
  }

  async function openBreaker(breaker: ModelBreaker): Promise<void> {
    await failTimes(breaker, 4);
    expect(breaker.status().state).toBe('open');
  }

  async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
    return promise.then(
      () => {
        throw new Error('Expected a rejection.');
      },
      (error: unknown) => error,
    );
  }

  it('should pass results and errors of a closed breaker through', async () => {
    const breaker = aRegistry().forModel(MODEL);
    const error = transient();

    await expect(breaker.fire(succeed)).resolves.toBe('ok');
    await expect(breaker.fire(() => Promise.reject(error))).rejects.toBe(error);
  });

  it('should not open before the minimum volume of calls', async () => {
    const breaker = aRegistry({ volumeThreshold: 4 }).forModel(MODEL);

    await failTimes(breaker, 3);

    expect(breaker.status().state).toBe('closed');
  });

  it('should open once the failures in the window are above the threshold', async () => {
    const breaker = aRegistry({ volumeThreshold: 4, errorThresholdPercentage: 50 }).forModel(MODEL);
    await breaker.fire(succeed);
    await breaker.fire(succeed);
    await failTimes(breaker, 2);
    expect(breaker.status().state).toBe('closed'); // 50 % is not above 50 %

    await failTimes(breaker, 1);

    expect(breaker.status().state).toBe('open');
  });

  it('should count timeouts as failures', async () => {
    const breaker = aRegistry().forModel(MODEL);

    await failTimes(breaker, 4, () => new UpstreamTimeoutError('first_byte'));

    expect(breaker.status().state).toBe('open');
  });

  it.each([
    ['UpstreamBadRequestError', () => new UpstreamBadRequestError('bad')],
    ['ContextLengthExceededError', () => new ContextLengthExceededError('too long')],
    ['RequestAbortedError', () => new RequestAbortedError()],
    ['an error of no taxonomy', () => new TypeError('bug')],
  ])('should never open on %s, which says nothing of upstream health', async (_name, error) => {
    const breaker = aRegistry().forModel(MODEL);

    await failTimes(breaker, 20, error);

    expect(breaker.status().state).toBe('closed');
  });

  it('should fail fast while open, with circuit_open and the time until the half-open probe', async () => {
    const breaker = aRegistry().forModel(MODEL);
    await openBreaker(breaker);
    const action = jest.fn(succeed);

    const error = await rejectionOf(breaker.fire(action));

    expect(action).not.toHaveBeenCalled();
    expect(error).toBeInstanceOf(UpstreamUnavailableError);
    expect(error).toMatchObject({
      reason: 'circuit_open',
      retryAfterMs: RESET_MS,
      policy: { retryable: false, tripsBreaker: false, triesFallback: true },
    });
    expect(breaker.allowsCalls()).toBe(false);
  });

  it('should count the Retry-After of an open breaker down to the half-open time', async () => {
    const breaker = aRegistry().forModel(MODEL);
    await openBreaker(breaker);

    await jest.advanceTimersByTimeAsync(10_000);

    await expect(rejectionOf(breaker.fire(succeed))).resolves.toMatchObject({ retryAfterMs: RESET_MS - 10_000 });
    expect(breaker.msUntilHalfOpen()).toBe(RESET_MS - 10_000);
  });

  it('should turn half-open after resetTimeoutMs', async () => {
    const breaker = aRegistry().forModel(MODEL);
    await openBreaker(breaker);

    await jest.advanceTimersByTimeAsync(RESET_MS - 1);
    expect(breaker.status().state).toBe('open');

    await jest.advanceTimersByTimeAsync(1);
    expect(breaker.status().state).toBe('half_open');
    expect(breaker.allowsCalls()).toBe(true);
  });

  it('should let a single probe through while half-open', async () => {
    const breaker = aRegistry().forModel(MODEL);
    await openBreaker(breaker);
    await jest.advanceTimersByTimeAsync(RESET_MS);
    let answerProbe = (_value: string) => {};
    const probe = breaker.fire(() => new Promise<string>((resolve) => (answerProbe = resolve)));
    const second = jest.fn(succeed);

    await expect(rejectionOf(breaker.fire(second))).resolves.toMatchObject({ reason: 'circuit_open' });
    expect(second).not.toHaveBeenCalled();

    answerProbe('ok');
    await expect(probe).resolves.toBe('ok');
  });

  it('should close when the probe succeeds', async () => {
    const breaker = aRegistry().forModel(MODEL);
    await openBreaker(breaker);
    await jest.advanceTimersByTimeAsync(RESET_MS);

    await breaker.fire(succeed);

    expect(breaker.status()).toMatchObject({ upstream: 'openai', model: MODEL, state: 'closed', halfOpenAt: undefined, recentFailures: 0 });
    expect(breaker.msUntilHalfOpen()).toBe(0);
  });

  it('should re-open for another resetTimeoutMs when the probe fails', async () => {
    const breaker = aRegistry().forModel(MODEL);
    await openBreaker(breaker);
    await jest.advanceTimersByTimeAsync(RESET_MS);

    await failTimes(breaker, 1);

    expect(breaker.status()).toMatchObject({ state: 'open', halfOpenAt: Date.now() + RESET_MS });
    await jest.advanceTimersByTimeAsync(RESET_MS);
    expect(breaker.status().state).toBe('half_open');
  });

  it('should close a half-open breaker that no call probes within another resetTimeoutMs, and only then', async () => {
    const breaker = aRegistry().forModel(MODEL);
    await openBreaker(breaker);
    await jest.advanceTimersByTimeAsync(RESET_MS);
    expect(breaker.status().state).toBe('half_open');

    await jest.advanceTimersByTimeAsync(RESET_MS - 1);
    expect(breaker.status().state).toBe('half_open');

    await jest.advanceTimersByTimeAsync(1);
    expect(breaker.status().state).toBe('closed');
  });

  it('should leave a half-open breaker to its probe when a call probes it', async () => {
    const breaker = aRegistry().forModel(MODEL);
    await openBreaker(breaker);
    await jest.advanceTimersByTimeAsync(RESET_MS);
    const probe = breaker.fire(() => new Promise(() => {}));

    await jest.advanceTimersByTimeAsync(RESET_MS);

    expect(breaker.status().state).toBe('half_open');
    void probe;
  });

  // A filtered error counts as a success in opossum: a probe its caller cancelled must not close the breaker.
  it('should not close when the half-open probe is cancelled by its caller', async () => {
    const breaker = aRegistry().forModel(MODEL);
    await openBreaker(breaker);
    await jest.advanceTimersByTimeAsync(RESET_MS);

    await failTimes(breaker, 1, () => new RequestAbortedError());

    expect(breaker.status().state).not.toBe('closed');
  });

  it('should tell callers to wait at least a second while the half-open probe is in flight', async () => {
    const breaker = aRegistry().forModel(MODEL);
    await openBreaker(breaker);
    await jest.advanceTimersByTimeAsync(RESET_MS);
    const probe = breaker.fire(() => new Promise(() => {}));

    await expect(rejectionOf(breaker.fire(succeed))).resolves.toMatchObject({ reason: 'circuit_open', retryAfterMs: 1000 });
    void probe;
  });

  it('should open at once on forceOpen', async () => {
    const breaker = aRegistry().forModel(MODEL);

    breaker.forceOpen();

    expect(breaker.status()).toMatchObject({ upstream: 'openai', model: MODEL, state: 'open', halfOpenAt: Date.now() + RESET_MS });
    await expect(rejectionOf(breaker.fire(succeed))).resolves.toMatchObject({ reason: 'circuit_open', retryAfterMs: RESET_MS });
  });

  it('should keep one breaker per model', async () => {
    const breakers = aRegistry();
    await openBreaker(breakers.forModel(MODEL));

    expect(breakers.forModel(MODEL)).toBe(breakers.forModel(MODEL));
    await expect(breakers.forModel('gpt-4o-mini').fire(succeed)).resolves.toBe('ok');
    expect(breakers.forModel('gpt-4o-mini').status().state).toBe('closed');
  });

  it('should list the status of every breaker', async () => {
    const breakers = aRegistry();
    breakers.forModel('gpt-4o-mini');
    breakers.forModel(MODEL).forceOpen();

    expect(breakers.statuses()).toEqual([
      { upstream: 'openai', model: 'gpt-4o-mini', state: 'closed', halfOpenAt: undefined, recentCalls: 0, recentFailures: 0 },
      { upstream: 'openai', model: MODEL, state: 'open', halfOpenAt: Date.now() + RESET_MS, recentCalls: 0, recentFailures: 0 },
    ]);
  });

  it('should count the recent calls that reached the upstream and those that failed it, not the tenant errors', async () => {
    const breaker = aRegistry().forModel(MODEL);
    await breaker.fire(succeed);
    await failTimes(breaker, 2);
    await failTimes(breaker, 1, () => new UpstreamBadRequestError('bad temperature'));

    expect(breaker.status()).toMatchObject({ recentCalls: 4, recentFailures: 2 });
  });
});
