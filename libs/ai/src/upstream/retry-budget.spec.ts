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

  describe('shared between tenants', () => {
    function acquireAllFor(budget: RetryBudget, tenantId: string): number {
      let granted = 0;
      while (budget.tryAcquireRetry(tenantId)) granted++;
      return granted;
    }

    const recordFor = (budget: RetryBudget, tenantId: string, requests: number) => {
      for (let i = 0; i < requests; i++) budget.recordRequest(tenantId);
    };

    it("should stop one tenant's failing calls at its share, leaving the others theirs", () => {
      const budget = aBudget({ ratio: 0.1, minRetriesPerSecond: 0.4, windowMs: 10_000 });
      recordFor(budget, 'noisy', 100);
      recordFor(budget, 'quiet', 10);

      // noisy: 10 of its own + half of the reserve of 4; quiet: 1 + 2.
      expect(acquireAllFor(budget, 'noisy')).toBe(12);
      expect(acquireAllFor(budget, 'quiet')).toBe(3);
      expect(budget.snapshot()).toEqual({ requests: 110, retries: 15, allowedRetries: 15 });
    });

    it('should give a lone tenant the whole reserve', () => {
      const budget = aBudget({ ratio: 0.1, minRetriesPerSecond: 0.5, windowMs: 10_000 });
      recordFor(budget, 'alone', 20);

      expect(acquireAllFor(budget, 'alone')).toBe(7);
    });

    it('should let quiet tenants retry once each, until the whole budget is spent', () => {
      const budget = aBudget({ ratio: 0.1, minRetriesPerSecond: 0.5, windowMs: 10_000 });
      const tenants = Array.from({ length: 20 }, (_, index) => `quiet-${index}`);
      tenants.forEach((tenant) => recordFor(budget, tenant, 3));

      // Each one's share is 0.25 of the reserve + 0.3 of its own: under one, so one; the whole budget is 5 + 6.
      expect(tenants.map((tenant) => acquireAllFor(budget, tenant))).toEqual([...Array(11).fill(1), ...Array(9).fill(0)]);
      expect(budget.snapshot()).toEqual({ requests: 60, retries: 11, allowedRetries: 11 });
    });

    it('should keep the global cap when a new tenant arrives after the others spent the budget', () => {
      const budget = aBudget({ ratio: 0.1, minRetriesPerSecond: 0.2, windowMs: 10_000 });
      recordFor(budget, 'first', 10);
      expect(acquireAllFor(budget, 'first')).toBe(3);

      // The newcomer's share (1 of the reserve of 2, as one of two) is not there: the whole budget is spent.
      expect(budget.tryAcquireRetry('newcomer')).toBe(false);
    });

    it("should forget a tenant once its requests slide out of the window, and share the reserve among fewer", () => {
      const budget = aBudget({ ratio: 0, minRetriesPerSecond: 0.4, windowMs: 10_000 });
      recordFor(budget, 'gone', 1);
      clock.advance(5_000);
      recordFor(budget, 'staying', 1);
      expect(acquireAllFor(budget, 'staying')).toBe(2);

      clock.advance(6_000);

      expect(acquireAllFor(budget, 'staying')).toBe(2);
    });
  });
});
