import { RetryBudgetOptions } from '../ai-module-options';
import { FakeClock } from '../../test/fake-clock';
import { resolvedOptions } from '../../test/factories';
import { RetryBudget } from './retry-budget';

describe(RetryBudget.name, () => {
  let clock: FakeClock;

  beforeEach(() => {
    clock = new FakeClock();
  });

  const aBudget = (retryBudget: Partial<RetryBudgetOptions> = {}) => new RetryBudget(resolvedOptions({ retryBudget }).retryBudget, clock);

  function acquireAll(budget: RetryBudget): number {
    let granted = 0;
    while (budget.tryAcquireRetry()) granted++;
    return granted;
  }

  function record(budget: RetryBudget, requests: number): void {
    for (let i = 0; i < requests; i++) budget.recordRequest();
  }

  it('should allow the reserve (minRetriesPerSecond × window) with no traffic', () => {
    const budget = aBudget({ minRetriesPerSecond: 0.5, windowMs: 10_000 });

    expect(acquireAll(budget)).toBe(5);
  });

  it('should allow ratio × requests retries on top of the reserve', () => {
    const budget = aBudget({ ratio: 0.1, minRetriesPerSecond: 0 });
    record(budget, 20);

    expect(budget.tryAcquireRetry()).toBe(true);
    expect(budget.tryAcquireRetry()).toBe(true);
    expect(budget.tryAcquireRetry()).toBe(false);
  });

  it('should allow about 10% of 100 requests plus the reserve, and no more', () => {
    const budget = aBudget();
    record(budget, 100);

    expect(acquireAll(budget)).toBe(15);
    expect(budget.snapshot()).toEqual({ requests: 100, retries: 15, allowedRetries: 15 });
  });

  it('should keep counting requests made earlier in the window', () => {
    const budget = aBudget({ ratio: 0.1, minRetriesPerSecond: 0, windowMs: 10_000 });
    record(budget, 20);
    clock.advance(9_000);

    expect(acquireAll(budget)).toBe(2);
  });

  it('should forget requests once they slide out of the window', () => {
    const budget = aBudget({ ratio: 0.1, minRetriesPerSecond: 0, windowMs: 10_000 });
    record(budget, 20);
    clock.advance(11_000);

    expect(budget.tryAcquireRetry()).toBe(false);
    expect(budget.snapshot().requests).toBe(0);
  });

  it('should give retries back once they slide out of the window', () => {
    const budget = aBudget({ minRetriesPerSecond: 0.2, windowMs: 10_000 });
    expect(acquireAll(budget)).toBe(2);

    clock.advance(5_000);
    expect(budget.tryAcquireRetry()).toBe(false);

    clock.advance(6_000);
    expect(acquireAll(budget)).toBe(2);
  });

  it('should count retries spread over the window together', () => {
    const budget = aBudget({ ratio: 0.1, minRetriesPerSecond: 0, windowMs: 10_000 });
    record(budget, 30);
    expect(budget.tryAcquireRetry()).toBe(true);
    clock.advance(3_000);
    expect(budget.tryAcquireRetry()).toBe(true);
    clock.advance(3_000);
    expect(budget.tryAcquireRetry()).toBe(true);
    clock.advance(3_000);

    expect(budget.tryAcquireRetry()).toBe(false);
  });
});
