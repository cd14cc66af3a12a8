import { FakeClock } from '../../test/fake-clock';
import { aCallRecord, resolvedOptions } from '../../test/factories';
import { BreakerRegistry, BreakerStatus } from '../upstream/breaker-registry';
import type { PooledKeyStatus, UpstreamPool } from '../upstream/upstream-pool';
import { AlertEvaluator, quantileOf } from './alert-evaluator';
import { AlertNotification, AlertNotifier } from './alert-notifier';
import { AlertRule } from './alert-rules';
import { QuotaName } from '../errors/ai-errors';
import { QuotaWatch } from './quota-watch';
import { listeningMetrics } from '../../test/metrics';
import { CallEvents } from './call-events';

const MINUTE = 60_000;

class RecordingNotifier implements AlertNotifier {
  readonly sent: AlertNotification[] = [];
  failing = false;

  async notify(notification: AlertNotification): Promise<void> {
    if (this.failing) throw new Error('webhook down');
    this.sent.push(notification);
  }

  summary(): string[] {
    return this.sent.map(({ status, alert }) => `${status} ${alert.name} ${JSON.stringify(alert.labels)}`);
  }
}

class FakeBreakers {
  states: BreakerStatus[] = [];
  statuses(): BreakerStatus[] {
    return this.states;
  }
}

class FakeQuotaWatch {
  use: Array<{ tenantId: string; quota: QuotaName; used: number }> = [];
  async refresh(): Promise<void> {}
  usedAtLeast(ratio: number) {
    return this.use.filter((entry) => entry.used >= ratio);
  }
}

function setUp(rules: AlertRule[]) {
  const clock = new FakeClock();
  const notifier = new RecordingNotifier();
  const breakers = new FakeBreakers();
  const quotas = new FakeQuotaWatch();
  const keys: Partial<PooledKeyStatus>[] = [];
  const pool = { statuses: () => keys } as unknown as UpstreamPool;
  const options = resolvedOptions({ alerts: { rules } });
  const callEvents = new CallEvents();
  const metrics = listeningMetrics(options.telemetry, { calls: callEvents });
  const evaluator = new AlertEvaluator(metrics, breakers as unknown as BreakerRegistry, pool, quotas as unknown as QuotaWatch, notifier, clock, options.alerts);
  const calls = (model: string, outcome: string, count: number, seconds = 0.2) => {
    for (let i = 0; i < count; i++) callEvents.callEnded(aCallRecord({ modelServed: model, outcome, latencyMs: seconds * 1000 }));
  };
  const tick = async (ms = 15_000) => {
    clock.advance(ms);
    await evaluator.evaluate();
  };
  return { clock, notifier, breakers, quotas, keys, evaluator, calls, tick };
}

const errorRate: AlertRule = { name: 'ErrorRate', kind: 'error_rate', severity: 'warning', outcomes: '^upstream_', aboveRatio: 0.05, windowMs: 5 * MINUTE, minCalls: 20 };

describe(AlertEvaluator.name, () => {
  it('should fire once while the error rate stays high, not once per failure or evaluation, and resolve once', async () => {
    const { calls, tick, notifier, evaluator } = setUp([errorRate]);
    calls('gpt-4o', 'success', 80);
    calls('gpt-4o', 'upstream_unavailable', 20);
    await tick();
    calls('gpt-4o', 'upstream_unavailable', 20);
    await tick();
    await tick();
    expect(notifier.summary()).toEqual(['firing ErrorRate {"outcome":"upstream_unavailable"}']);
    expect(evaluator.active()).toEqual([expect.objectContaining({ name: 'ErrorRate', state: 'firing', labels: { outcome: 'upstream_unavailable' } })]);

    calls('gpt-4o', 'success', 10);
    await tick(6 * MINUTE); // the failures leave the window
    expect(notifier.summary()).toEqual(['firing ErrorRate {"outcome":"upstream_unavailable"}', 'resolved ErrorRate {"outcome":"upstream_unavailable"}']);
    expect(evaluator.active()).toEqual([]);
  });

  it('should not fire below the ratio, below the minimum of calls, or for outcomes the rule does not match', async () => {
    const { calls, tick, notifier } = setUp([errorRate]);
    calls('gpt-4o', 'success', 99);
    calls('gpt-4o', 'upstream_timeout', 5);
    calls('gpt-4o', 'rate_limit_exceeded', 40);
    await tick();
    const few = setUp([errorRate]);
    few.calls('gpt-4o', 'upstream_timeout', 19);
    await few.tick();
    expect([...notifier.summary(), ...few.notifier.summary()]).toEqual([]);
  });

  it('should keep an alert pending until its condition has held for forMs, and drop it silently if it stops before', async () => {
    const { calls, tick, notifier, evaluator } = setUp([{ ...errorRate, forMs: 2 * MINUTE }]);
    calls('gpt-4o', 'upstream_timeout', 30);
    await tick();
    expect(evaluator.active()).toEqual([expect.objectContaining({ state: 'pending' })]);
    await tick(MINUTE);
    expect(notifier.sent).toEqual([]);
    await tick(MINUTE);
    expect(notifier.summary()).toEqual(['firing ErrorRate {"outcome":"upstream_timeout"}']);

    const brief = setUp([{ ...errorRate, forMs: 2 * MINUTE }]);
    brief.calls('gpt-4o', 'upstream_timeout', 30);
    await brief.tick();
    await brief.tick(6 * MINUTE);
    expect(brief.notifier.sent).toEqual([]);
    expect(brief.evaluator.active()).toEqual([]);
  });

  it('should fire on a single insufficient_quota, per model', async () => {
    const { calls, tick, notifier } = setUp([{ name: 'QuotaGone', kind: 'outcome_seen', severity: 'critical', outcome: 'upstream_quota_exhausted', windowMs: 5 * MINUTE }]);
    calls('gpt-4o', 'success', 500);
    calls('gpt-4o', 'upstream_quota_exhausted', 1);
    await tick();
    expect(notifier.summary()).toEqual(['firing QuotaGone {"model":"gpt-4o"}']);
    expect(notifier.sent[0].alert.summary).toBe('1 call(s) to gpt-4o ended in upstream_quota_exhausted in the last 5 min.');
  });

  it('should fire when a breaker has stayed open for forMs, and resolve when it closes', async () => {
    const { breakers, tick, notifier } = setUp([{ name: 'BreakerOpen', kind: 'breaker_open', severity: 'critical', forMs: 5 * MINUTE }]);
    const status = (state: BreakerStatus['state']): BreakerStatus => ({ upstream: 'u', model: 'gpt-4o', state, recentCalls: 0, recentFailures: 0 });
    breakers.states = [status('open')];
    await tick();
    await tick(4 * MINUTE);
    expect(notifier.sent).toEqual([]);
    breakers.states = [status('half_open')];
    await tick(MINUTE);
    expect(notifier.summary()).toEqual(['firing BreakerOpen {"upstream":"u","model":"gpt-4o"}']);
    breakers.states = [status('closed')];
    await tick();
    expect(notifier.summary()).toEqual(['firing BreakerOpen {"upstream":"u","model":"gpt-4o"}', 'resolved BreakerOpen {"upstream":"u","model":"gpt-4o"}']);
  });

  it('should fire on a p99 above the threshold, computed from the histogram over the window', async () => {
    const rule: AlertRule = { name: 'SlowP99', kind: 'latency', severity: 'warning', quantile: 0.99, aboveSeconds: 30, windowMs: 5 * MINUTE, minCalls: 20 };
    const { calls, tick, notifier } = setUp([rule]);
    calls('gpt-4o', 'success', 95, 0.3);
    calls('gpt-4o', 'success', 5, 100);
    calls('gpt-4o-mini', 'success', 100, 0.3);
    await tick();
    expect(notifier.summary()).toEqual(['firing SlowP99 {"model":"gpt-4o"}']);
    expect(notifier.sent[0].alert.value).toBeGreaterThan(30);
  });

  it('should alert on tenants at 80% and 100% of a quota', async () => {
    const { quotas, tick, notifier } = setUp([
      { name: 'At80', kind: 'quota_used', severity: 'warning', atLeastRatio: 0.8 },
      { name: 'At100', kind: 'quota_used', severity: 'critical', atLeastRatio: 1 },
    ]);
    quotas.use = [{ tenantId: 'acme', quota: 'tokens_per_month', used: 0.85 }];
    await tick();
    quotas.use = [{ tenantId: 'acme', quota: 'tokens_per_month', used: 1 }];
    await tick();
    expect(notifier.summary()).toEqual(['firing At80 {"tenant":"acme","quota":"tokens_per_month"}', 'firing At100 {"tenant":"acme","quota":"tokens_per_month"}']);
  });

  it('should try an undelivered notification again at the next evaluations, and send it once', async () => {
    const { calls, tick, notifier } = setUp([{ name: 'QuotaGone', kind: 'outcome_seen', severity: 'critical', outcome: 'upstream_quota_exhausted', windowMs: 5 * MINUTE }]);
    notifier.failing = true;
    calls('gpt-4o', 'upstream_quota_exhausted', 1);
    await tick();
    await tick();
    notifier.failing = false;
    await tick();
    await tick();
    expect(notifier.summary()).toEqual(['firing QuotaGone {"model":"gpt-4o"}']);
  });
});

describe(`${AlertEvaluator.name} memory`, () => {
  it('should keep only the counters its longest window needs, and one when no rule has a window', async () => {
    const windowed = setUp([{ ...errorRate, windowMs: MINUTE }]);
    const windowless = setUp([{ name: 'BreakerOpen', kind: 'breaker_open', severity: 'critical' }]);
    for (let i = 0; i < 100; i++) {
      await windowed.tick();
      await windowless.tick();
    }
    // 15 s ticks: four inside the minute, plus its baseline.
    expect(windowed.evaluator.snapshotCount).toBe(5);
    expect(windowless.evaluator.snapshotCount).toBe(1);
  });
});

describe(quantileOf.name, () => {
  it('should interpolate inside the bucket the rank falls in, as histogram_quantile does', () => {
    const buckets = [
      { le: 1, count: 50 },
      { le: 2, count: 100 },
      { le: Infinity, count: 100 },
    ];
    expect(quantileOf(0.5, buckets)).toBe(1);
    expect(quantileOf(0.75, buckets)).toBe(1.5);
    expect(quantileOf(0.99, [{ le: 1, count: 10 }, { le: Infinity, count: 100 }])).toBe(1);
  });
  it('should fire at once for an upstream key taken out, naming the key and why, and resolve when it is back', async () => {
    const { keys, tick, notifier } = setUp([{ name: 'UpstreamKeyOut', kind: 'key_out', severity: 'critical' }]);
    await tick();
    expect(notifier.sent).toEqual([]);

    keys.push({ upstream: 'openai-main', key: 'project-a', fingerprint: '0123456789ab', out: { reason: 'wrong_account', since: 'now', detail: 'it answers for project proj_dev, not proj_prod' } });
    await tick();
    keys.pop();
    await tick();

    expect(notifier.sent.map(({ status, alert }) => ({ status, labels: alert.labels, summary: alert.summary }))).toEqual([
      {
        status: 'firing',
        labels: { upstream: 'openai-main', key: 'project-a', reason: 'wrong_account' },
        summary: 'Upstream openai-main, key project-a (fingerprint 0123456789ab) is out of service: it answers for project proj_dev, not proj_prod.',
      },
      expect.objectContaining({ status: 'resolved', labels: { upstream: 'openai-main', key: 'project-a', reason: 'wrong_account' } }),
    ]);
  });
});
