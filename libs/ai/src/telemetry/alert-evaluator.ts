import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { AlertOptions } from '../ai-module-options';
import { ALERT_OPTIONS } from '../ai-option-slices';
import { Clock, InjectClock } from '../common/clock';
import { BreakerRegistry } from '../upstream/breaker-registry';
import { UpstreamPool } from '../upstream/upstream-pool';
import { AiMetrics } from './ai-metrics';
import { AlertNotification, AlertNotifier, InjectAlertNotifier } from './alert-notifier';
import { AlertRule, AlertSeverity, ErrorRateRule, LatencyRule, OutcomeSeenRule, QuotaUsedRule } from './alert-rules';
import { QuotaWatch } from './quota-watch';

/** An alert whose condition holds: `pending` until it has held for the rule's `forMs`, then `firing`. */
export interface ActiveAlert {
  name: string;
  severity: AlertSeverity;
  state: 'pending' | 'firing';
  labels: Record<string, string>;
  /** The measured value: a ratio, a count, seconds. */
  value: number;
  summary: string;
  /** ISO time the condition started to hold. */
  activeSince: string;
  firingSince?: string;
}

interface Condition {
  labels: Record<string, string>;
  value: number;
  summary: string;
}

/** Counter values at one evaluation, keyed `model|outcome` and `model|le`. */
interface Snapshot {
  at: number;
  calls: Map<string, number>;
  buckets: Map<string, number>;
}

/** Undelivered notifications are tried again at the next evaluations, this many times in all. */
const DELIVERY_TRIES = 5;

/**
 * Alerts on patterns, not single failures. Every evaluation reads the library's own metrics (the
 * same series Prometheus scrapes), the breakers and the tenants' quota use, and compares them with
 * the rules over their windows; an alert notifies once when it fires and once when it resolves.
 */
@Injectable()
export class AlertEvaluator implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(AlertEvaluator.name);
  private readonly rules: readonly AlertRule[];
  private readonly alerts = new Map<string, { rule: AlertRule; alert: ActiveAlert }>();
  private readonly outbox: Array<{ notification: AlertNotification; tries: number }> = [];
  private snapshots: Snapshot[] = [];
  private timer?: NodeJS.Timeout;
  private evaluating?: Promise<void>;

  constructor(
    private readonly metrics: AiMetrics,
    private readonly breakers: BreakerRegistry,
    private readonly pool: UpstreamPool,
    private readonly quotas: QuotaWatch,
    @InjectAlertNotifier() private readonly notifier: AlertNotifier,
    @InjectClock() private readonly clock: Clock,
    @Inject(ALERT_OPTIONS) private readonly options: AlertOptions,
  ) {
    this.rules = options.rules;
    // Every counter starts at zero with the process: this is the baseline of the first windows.
    this.snapshots.push({ at: clock.now(), calls: new Map(), buckets: new Map() });
  }

  onModuleInit(): void {
    if (this.rules.length === 0) return;
    this.timer = setInterval(() => void this.evaluate(), this.options.evaluationIntervalMs);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  /** Alerts whose condition holds now, firing ones first. */
  active(): ActiveAlert[] {
    return [...this.alerts.values()].map(({ alert }) => ({ ...alert })).sort((a, b) => (a.state === b.state ? 0 : a.state === 'firing' ? -1 : 1));
  }

  /** One evaluation of every rule; evaluations never overlap. */
  evaluate(): Promise<void> {
    this.evaluating ??= this.evaluateRules().finally(() => (this.evaluating = undefined));
    return this.evaluating;
  }

  private async evaluateRules(): Promise<void> {
    try {
      await this.quotas.refresh(this.lowestQuotaRatio());
      const now = this.clock.now();
      this.snapshots.push(await this.snapshot(now));
      this.forgetSnapshots(now);
      const holding = new Set<string>();
      for (const rule of this.rules) {
        for (const condition of this.conditions(rule, now)) {
          const key = `${rule.name}${JSON.stringify(condition.labels)}`;
          holding.add(key);
          this.hold(key, rule, condition, now);
        }
      }
      for (const [key, { alert }] of this.alerts) {
        if (holding.has(key)) continue;
        this.alerts.delete(key);
        if (alert.state === 'firing') this.send('resolved', alert, now);
      }
    } catch (error) {
      this.logger.error(`alert evaluation failed: ${(error as Error).message}`);
    }
    await this.deliver();
  }

  private hold(key: string, rule: AlertRule, condition: Condition, now: number): void {
    const held = this.alerts.get(key)?.alert ?? {
      name: rule.name,
      severity: rule.severity,
      state: 'pending' as const,
      labels: condition.labels,
      value: condition.value,
      summary: condition.summary,
      activeSince: new Date(now).toISOString(),
    };
    const alert: ActiveAlert = { ...held, value: condition.value, summary: condition.summary };
    if (alert.state === 'pending' && now - Date.parse(alert.activeSince) >= (rule.forMs ?? 0)) {
      alert.state = 'firing';
      alert.firingSince = new Date(now).toISOString();
      this.send('firing', alert, now);
    }
    this.alerts.set(key, { rule, alert });
  }

  private conditions(rule: AlertRule, now: number): Condition[] {
    switch (rule.kind) {
      case 'error_rate':
        return this.errorRate(rule, now);
      case 'outcome_seen':
        return this.outcomeSeen(rule, now);
      case 'breaker_open':
        return this.breakers
          .statuses()
          .filter((breaker) => breaker.state !== 'closed')
          .map(({ upstream, model, state }) => ({
            labels: { upstream, model },
            value: 1,
            summary: `The breaker for ${model} at upstream ${upstream} is ${state.replace('_', '-')}.`,
          }));
      case 'key_out':
        return this.pool
          .statuses()
          .filter((key) => key.out !== undefined)
          .map(({ upstream, key, fingerprint, out }) => ({
            labels: { upstream, key, reason: out!.reason },
            value: 1,
            summary: `Upstream ${upstream}, key ${key} (fingerprint ${fingerprint}) is out of service: ${out!.detail ?? out!.reason}.`,
          }));
      case 'latency':
        return this.latency(rule, now);
      case 'quota_used':
        return this.quotaUsed(rule);
    }
  }

  private errorRate(rule: ErrorRateRule, now: number): Condition[] {
    const byOutcome = sumBy(this.increase(now, rule.windowMs, 'calls'), (key) => key.split('|')[1]);
    const total = [...byOutcome.values()].reduce((sum, count) => sum + count, 0);
    if (total < rule.minCalls || total === 0) return [];
    const matching = new RegExp(rule.outcomes);
    return [...byOutcome]
      .filter(([outcome, count]) => matching.test(outcome) && count / total > rule.aboveRatio)
      .map(([outcome, count]) => ({
        labels: { outcome },
        value: count / total,
        summary: `${outcome} ended ${percent(count / total)} of ${total} calls in the last ${minutes(rule.windowMs)}.`,
      }));
  }

  private outcomeSeen(rule: OutcomeSeenRule, now: number): Condition[] {
    const byModel = sumBy(this.increase(now, rule.windowMs, 'calls'), (key) => {
      const [model, outcome] = key.split('|');
      return outcome === rule.outcome ? model : undefined;
    });
    return [...byModel]
      .filter(([, count]) => count > 0)
      .map(([model, count]) => ({ labels: { model }, value: count, summary: `${count} call(s) to ${model} ended in ${rule.outcome} in the last ${minutes(rule.windowMs)}.` }));
  }

  private latency(rule: LatencyRule, now: number): Condition[] {
    const increase = this.increase(now, rule.windowMs, 'buckets');
    const models = new Set([...increase.keys()].map((key) => key.split('|')[0]));
    return [...models].flatMap((model) => {
      const buckets = [...increase]
        .filter(([key]) => key.split('|')[0] === model)
        .map(([key, count]) => ({ le: Number(key.split('|')[1]), count }))
        .sort((a, b) => a.le - b.le);
      const calls = buckets.at(-1)?.count ?? 0;
      if (calls < rule.minCalls || calls === 0) return [];
      const seconds = quantileOf(rule.quantile, buckets);
      if (seconds <= rule.aboveSeconds) return [];
      const label = `p${Math.round(rule.quantile * 100)}`;
      return [{ labels: { model }, value: seconds, summary: `${label} latency of ${model} was ${seconds.toFixed(1)} s over the last ${minutes(rule.windowMs)} (${calls} calls).` }];
    });
  }

  private quotaUsed(rule: QuotaUsedRule): Condition[] {
    return this.quotas.usedAtLeast(rule.atLeastRatio).map(({ tenantId, quota, used }) => ({
      labels: { tenant: tenantId, quota },
      value: used,
      summary: `Tenant ${tenantId} has used ${percent(used)} of its ${quota.replaceAll('_', ' ')} quota.`,
    }));
  }

  /** How much each series grew since the start of the window (since start-up when that is later). */
  private increase(now: number, windowMs: number, series: 'calls' | 'buckets'): Map<string, number> {
    const latest = this.snapshots[this.snapshots.length - 1];
    const from = [...this.snapshots].reverse().find((snapshot) => snapshot.at <= now - windowMs) ?? this.snapshots[0];
    const grown = new Map<string, number>();
    for (const [key, value] of latest[series]) grown.set(key, value - (from[series].get(key) ?? 0));
    return grown;
  }

  private async snapshot(at: number): Promise<Snapshot> {
    const calls = new Map<string, number>();
    for (const { labels, value } of (await this.metrics.requests.get()).values) calls.set(`${labels.model}|${labels.outcome}`, value);
    const buckets = new Map<string, number>();
    for (const sample of (await this.metrics.requestDuration.get()).values) {
      if (!sample.metricName?.endsWith('_bucket')) continue;
      const { labels, value } = sample as { labels: Record<string, string | number>; value: number };
      const key = `${labels.model}|${labels.le === '+Inf' ? Infinity : labels.le}`;
      buckets.set(key, (buckets.get(key) ?? 0) + value);
    }
    return { at, calls, buckets };
  }

  /** Keeps what the longest window needs: the snapshots inside it and the last one before it (its baseline). */
  private forgetSnapshots(now: number): void {
    const longest = Math.max(0, ...this.rules.map((rule) => ('windowMs' in rule ? rule.windowMs : 0)));
    const firstInside = this.snapshots.findIndex((snapshot) => snapshot.at > now - longest);
    const baseline = firstInside === -1 ? this.snapshots.length - 1 : Math.max(0, firstInside - 1);
    this.snapshots = this.snapshots.slice(baseline);
  }

  /** How many evaluations' counters are kept, for a test to see that they are bounded. */
  get snapshotCount(): number {
    return this.snapshots.length;
  }

  private lowestQuotaRatio(): number {
    return Math.min(1, ...this.rules.map((rule) => (rule.kind === 'quota_used' ? rule.atLeastRatio : 1)));
  }

  private send(status: AlertNotification['status'], alert: ActiveAlert, now: number): void {
    this.outbox.push({ notification: { status, alert: { ...alert }, at: new Date(now).toISOString() }, tries: 0 });
  }

  private async deliver(): Promise<void> {
    for (const entry of [...this.outbox]) {
      try {
        await this.notifier.notify(entry.notification);
        this.outbox.splice(this.outbox.indexOf(entry), 1);
      } catch (error) {
        entry.tries += 1;
        const { status, alert } = entry.notification;
        if (entry.tries < DELIVERY_TRIES) continue;
        this.outbox.splice(this.outbox.indexOf(entry), 1);
        this.logger.error(`gave up notifying that ${alert.name} is ${status} after ${DELIVERY_TRIES} tries: ${(error as Error).message}`);
      }
    }
  }
}

function sumBy(values: Map<string, number>, group: (key: string) => string | undefined): Map<string, number> {
  const sums = new Map<string, number>();
  for (const [key, value] of values) {
    const name = group(key);
    if (name !== undefined) sums.set(name, (sums.get(name) ?? 0) + value);
  }
  return sums;
}

/** Prometheus's histogram_quantile: linear within the bucket the rank falls in; the +Inf bucket answers its lower bound. */
export function quantileOf(quantile: number, buckets: Array<{ le: number; count: number }>): number {
  const total = buckets.at(-1)?.count ?? 0;
  const rank = quantile * total;
  let lowerBound = 0;
  let below = 0;
  for (const { le, count } of buckets) {
    if (count >= rank) {
      if (le === Infinity) return lowerBound;
      return count === below ? le : lowerBound + ((le - lowerBound) * (rank - below)) / (count - below);
    }
    lowerBound = le;
    below = count;
  }
  return lowerBound;
}

const percent = (ratio: number) => `${(ratio * 100).toFixed(1)}%`;
const minutes = (ms: number) => (ms % 60_000 === 0 ? `${ms / 60_000} min` : `${ms / 1000} s`);
