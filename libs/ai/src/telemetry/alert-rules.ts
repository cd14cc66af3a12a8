/** How loud an alert is; the webhook message and /admin/alerts carry it. */
export type AlertSeverity = 'warning' | 'critical';

interface RuleBase {
  /** Unique; the name Prometheus's twin of the rule carries in config/prometheus/alerts.yml. */
  name: string;
  severity: AlertSeverity;
  /** How long the condition must hold before the alert fires. @default 0 */
  forMs?: number;
}

/** Calls ending in outcomes that match `outcomes` make up more than `aboveRatio` of all calls in the window (one alert per outcome). */
export interface ErrorRateRule extends RuleBase {
  kind: 'error_rate';
  /** A regular expression over outcome codes, e.g. `^upstream_`. */
  outcomes: string;
  aboveRatio: number;
  windowMs: number;
  /** Fewer calls than this in the window never fire: a ratio of three calls is noise. */
  minCalls: number;
}

/** One call ending in `outcome` within the window is enough (one alert per model): `upstream_quota_exhausted`. */
export interface OutcomeSeenRule extends RuleBase {
  kind: 'outcome_seen';
  outcome: string;
  windowMs: number;
}

/** A model's breaker has not been closed for `forMs` (one alert per model). */
export interface BreakerOpenRule extends RuleBase {
  kind: 'breaker_open';
}

/** An upstream key is out of service: out of credit, or answering for the wrong account (one alert per key). */
export interface KeyOutRule extends RuleBase {
  kind: 'key_out';
}

/** A model's latency quantile over the window is above `aboveSeconds` (one alert per model). */
export interface LatencyRule extends RuleBase {
  kind: 'latency';
  /** e.g. 0.99 for p99. */
  quantile: number;
  aboveSeconds: number;
  windowMs: number;
  minCalls: number;
}

/** A tenant has used at least `atLeastRatio` of a quota (requests per day, tokens or cost per month). */
export interface QuotaUsedRule extends RuleBase {
  kind: 'quota_used';
  atLeastRatio: number;
}

export type AlertRule = ErrorRateRule | OutcomeSeenRule | BreakerOpenRule | KeyOutRule | LatencyRule | QuotaUsedRule;

const MINUTE = 60_000;

/** The same rules as config/prometheus/alerts.yml, evaluated in-process. */
export const DEFAULT_ALERT_RULES: readonly AlertRule[] = [
  { name: 'TollgateUpstreamErrorRateHigh', kind: 'error_rate', severity: 'warning', outcomes: '^upstream_', aboveRatio: 0.05, windowMs: 5 * MINUTE, minCalls: 20, forMs: 5 * MINUTE },
  { name: 'TollgateUpstreamQuotaExhausted', kind: 'outcome_seen', severity: 'critical', outcome: 'upstream_quota_exhausted', windowMs: 5 * MINUTE },
  { name: 'TollgateBreakerOpen', kind: 'breaker_open', severity: 'critical', forMs: 5 * MINUTE },
  { name: 'TollgateUpstreamKeyOut', kind: 'key_out', severity: 'critical' },
  { name: 'TollgateLatencyP99High', kind: 'latency', severity: 'warning', quantile: 0.99, aboveSeconds: 30, windowMs: 5 * MINUTE, minCalls: 20, forMs: 10 * MINUTE },
  { name: 'TollgateTenantQuotaAt80Percent', kind: 'quota_used', severity: 'warning', atLeastRatio: 0.8 },
  { name: 'TollgateTenantQuotaExhausted', kind: 'quota_used', severity: 'critical', atLeastRatio: 1 },
];

/** Throws a message naming the rule and the field when a rule cannot be evaluated. */
export function assertValidAlertRules(rules: readonly AlertRule[]): void {
  const names = new Set<string>();
  for (const rule of rules) {
    const where = `alert rule '${rule.name}'`;
    if (typeof rule.name !== 'string' || rule.name === '') throw new Error('every alert rule needs a name');
    if (names.has(rule.name)) throw new Error(`${where} is defined twice`);
    names.add(rule.name);
    if (rule.severity !== 'warning' && rule.severity !== 'critical') throw new Error(`${where}: severity must be warning or critical`);
    assertDuration(rule.forMs ?? 0, `${where}: forMs`);
    switch (rule.kind) {
      case 'error_rate':
        new RegExp(rule.outcomes);
        assertRatio(rule.aboveRatio, `${where}: aboveRatio`);
        assertDuration(rule.windowMs, `${where}: windowMs`, 1);
        assertDuration(rule.minCalls, `${where}: minCalls`);
        break;
      case 'outcome_seen':
        if (typeof rule.outcome !== 'string' || rule.outcome === '') throw new Error(`${where}: outcome must be an error code`);
        assertDuration(rule.windowMs, `${where}: windowMs`, 1);
        break;
      case 'breaker_open':
      case 'key_out':
        break;
      case 'latency':
        assertRatio(rule.quantile, `${where}: quantile`);
        if (!(rule.aboveSeconds > 0)) throw new Error(`${where}: aboveSeconds must be above 0`);
        assertDuration(rule.windowMs, `${where}: windowMs`, 1);
        assertDuration(rule.minCalls, `${where}: minCalls`);
        break;
      case 'quota_used':
        if (!(rule.atLeastRatio > 0 && rule.atLeastRatio <= 1)) throw new Error(`${where}: atLeastRatio must be above 0 and at most 1`);
        break;
      default:
        throw new Error(`${where}: kind must be error_rate, outcome_seen, breaker_open, key_out, latency or quota_used`);
    }
  }
}

function assertRatio(value: number, what: string): void {
  if (!(typeof value === 'number' && value >= 0 && value <= 1)) throw new Error(`${what} must be a number from 0 to 1`);
}

function assertDuration(value: number, what: string, min = 0): void {
  if (!(Number.isInteger(value) && value >= min)) throw new Error(`${what} must be a whole number of at least ${min}`);
}
