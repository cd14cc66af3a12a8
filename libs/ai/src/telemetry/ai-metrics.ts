import { Inject, Injectable, OnModuleInit, Optional } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { TelemetryOptions } from '../ai-module-options';
import { TELEMETRY_OPTIONS } from '../ai-option-slices';
import { DependencyStatus } from '../health/dependency-status';
import { RedisConnection } from '../limits/redis-connection';
import { Database } from '../persistence/database';
import type { DatabaseProbe } from '../persistence/database-probe';
import { JobEvents } from '../jobs/job-events';
import { BreakerRegistry, BreakerState } from '../upstream/breaker-registry';
import { UpstreamEvents } from '../upstream/upstream-events';
import { KeyOutReason, UpstreamPool } from '../upstream/upstream-pool';
import { CallEvents, CallRecord } from './call-events';
import { LedgerEvents } from './ledger-events';

const SECONDS_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
const BREAKER_STATE_VALUES: Record<BreakerState, number> = { closed: 0, half_open: 1, open: 2 };
/** A record, so that a new reason fails to compile until it is listed here. */
const KEY_OUT_REASONS = Object.keys({ insufficient_quota: true, refused: true, wrong_account: true } satisfies Record<KeyOutReason, true>);

/**
 * The library's Prometheus metrics, in a registry of their own that the application exposes.
 * Tenant labels are bounded: the first `telemetry.maxTenantLabels` tenants seen keep their id,
 * later ones count as `other`, so that cardinality cannot grow with the number of tenants.
 */
@Injectable()
export class AiMetrics implements OnModuleInit {
  readonly registry = new Registry();
  private readonly labelledTenants = new Set<string>();

  readonly requests = new Counter({
    name: 'tollgate_requests_total',
    help: 'Calls by model and outcome: success, or the error code that ended or refused them.',
    labelNames: ['model', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly requestDuration = new Histogram({
    name: 'tollgate_request_duration_seconds',
    help: 'Admitted calls from admission to their end, retries and streaming included, by model and outcome.',
    labelNames: ['model', 'outcome'] as const,
    buckets: SECONDS_BUCKETS,
    registers: [this.registry],
  });

  readonly upstreamDuration = new Histogram({
    name: 'tollgate_upstream_attempt_duration_seconds',
    help: 'One upstream attempt, to its answer (or first chunk), by model and outcome.',
    labelNames: ['model', 'outcome'] as const,
    buckets: SECONDS_BUCKETS,
    registers: [this.registry],
  });

  readonly tokens = new Counter({
    name: 'tollgate_tokens_total',
    help: 'Tokens billed, by tenant (bounded), model and kind (prompt, completion).',
    labelNames: ['tenant', 'model', 'kind'] as const,
    registers: [this.registry],
  });

  readonly cost = new Counter({
    name: 'tollgate_cost_usd_total',
    help: 'Cost in USD from the model table, by tenant (bounded) and model.',
    labelNames: ['tenant', 'model'] as const,
    registers: [this.registry],
  });

  readonly endpointRequests = new Counter({
    name: 'tollgate_endpoint_requests_total',
    help: 'Calls by OpenAI endpoint (chat.completions, embeddings, responses) and outcome.',
    labelNames: ['endpoint', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly tokenDetails = new Counter({
    name: 'tollgate_token_details_total',
    help: 'Parts of the billed tokens, by tenant (bounded), model and kind: cached (of the prompt, at the cached price), reasoning (of the completion).',
    labelNames: ['tenant', 'model', 'kind'] as const,
    registers: [this.registry],
  });

  readonly retries = new Counter({
    name: 'tollgate_upstream_retries_total',
    help: 'Upstream retries made, by model.',
    labelNames: ['model'] as const,
    registers: [this.registry],
  });

  readonly ledgerDeadLetters = new Counter({
    name: 'tollgate_ledger_dead_letters_total',
    help: 'Ledger rows the database refused, kept in usage_dead_letters instead.',
    registers: [this.registry],
  });

  readonly retryBudgetRejections = new Counter({
    name: 'tollgate_retry_budget_rejections_total',
    help: 'Retries or fallbacks not made because the retry budget was spent.',
    registers: [this.registry],
  });

  readonly breakerState = new Gauge({
    name: 'tollgate_breaker_state',
    help: 'Breaker state by upstream and model: 0 closed, 1 half-open, 2 open.',
    labelNames: ['upstream', 'model'] as const,
    registers: [this.registry],
  });

  readonly breakerTransitions = new Counter({
    name: 'tollgate_breaker_transitions_total',
    help: 'Breaker state changes, by upstream, model and the state entered.',
    labelNames: ['upstream', 'model', 'state'] as const,
    registers: [this.registry],
  });

  readonly keyOut = new Gauge({
    name: 'tollgate_upstream_key_out',
    help: 'Whether an upstream key is out of service (1) and why: insufficient_quota, refused (401) or wrong_account; 0 once it is back.',
    labelNames: ['upstream', 'key', 'reason'] as const,
    registers: [this.registry],
  });

  readonly keyFailovers = new Counter({
    name: 'tollgate_upstream_key_failovers_total',
    help: 'Calls moved from a key to another without waiting, by the key left and why (the error code).',
    labelNames: ['upstream', 'key', 'reason'] as const,
    registers: [this.registry],
  });

  readonly keyRests = new Counter({
    name: 'tollgate_upstream_key_rests_total',
    help: "Upstream 429s that rested a key until the upstream's Retry-After.",
    labelNames: ['upstream', 'key'] as const,
    registers: [this.registry],
  });

  readonly clientRetries = new Counter({
    name: 'tollgate_client_retries_total',
    help: "Requests that were a client's own retry (the OpenAI SDKs' X-Stainless-Retry-Count above 0), by tenant.",
    labelNames: ['tenant'] as const,
    registers: [this.registry],
  });

  readonly secretRefreshes = new Counter({
    name: 'tollgate_upstream_key_refreshes_total',
    help: 'Reads of the upstream key from its store after start-up, by outcome (rotated, unchanged, failed).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly jobWait = new Histogram({
    name: 'tollgate_job_wait_seconds',
    help: 'Asynchronous jobs from submit to the start of their first run.',
    buckets: [0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600],
    registers: [this.registry],
  });

  readonly jobsFinished = new Counter({
    name: 'tollgate_jobs_finished_total',
    help: 'Asynchronous jobs settled by this replica, by status (succeeded, failed).',
    labelNames: ['status'] as const,
    registers: [this.registry],
  });

  readonly jobWebhooks = new Counter({
    name: 'tollgate_job_webhooks_total',
    help: 'Job webhooks this replica settled, by outcome (delivered, failed, refused: the destination was not allowed at delivery).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly quotaRemaining = new Gauge({
    name: 'tollgate_tenant_quota_remaining_ratio',
    help: 'What is left of a tenant quota (bounded tenant label; limited quotas only): 1 untouched, 0 spent.',
    labelNames: ['tenant', 'quota'] as const,
    registers: [this.registry],
  });

  readonly dependencyUp = new Gauge({
    name: 'tollgate_dependency_up',
    help: 'Whether the database, and Redis when configured, answered the last time they were used: 1 yes, 0 no.',
    labelNames: ['dependency'] as const,
    registers: [this.registry],
  });

  constructor(
    private readonly pool: UpstreamPool,
    private readonly breakers: BreakerRegistry,
    /** Absent without a database. */
    @Optional() @Inject(Database) private readonly database: DatabaseProbe | undefined,
    private readonly redis: RedisConnection,
    private readonly calls: CallEvents,
    private readonly upstream: UpstreamEvents,
    private readonly ledger: LedgerEvents,
    private readonly jobs: JobEvents,
    @Inject(TELEMETRY_OPTIONS) private readonly telemetry: TelemetryOptions,
  ) {}

  /** Every feature announces what happened; the metrics are written only here. */
  onModuleInit(): void {
    this.calls.onCallEnded((record) => this.callEnded(record));
    this.upstream.attemptEnded.add(({ model, outcome, seconds }) => this.upstreamDuration.observe({ model, outcome }, seconds));
    this.upstream.retried.add(({ model }) => this.retries.inc({ model }));
    this.upstream.retryRefusedByBudget.add(() => this.retryBudgetRejections.inc());
    this.ledger.deadLettered.add(() => this.ledgerDeadLetters.inc());
    this.jobs.firstRunStarted.add(({ waitSeconds }) => this.jobWait.observe(waitSeconds));
    this.jobs.finished.add(({ status }) => this.jobsFinished.inc({ status }));
    this.jobs.webhookSettled.add(({ outcome }) => this.jobWebhooks.inc({ outcome }));
    for (const key of this.pool.keys()) key.rotation.onRefresh((outcome) => this.secretRefreshes.inc({ outcome }));
    this.upstream.keyStateChanged.add(({ upstream, key, state, reason }) => {
      for (const each of KEY_OUT_REASONS) this.keyOut.set({ upstream, key, reason: each }, state === 'out' && reason === each ? 1 : 0);
    });
    this.upstream.keyFailedOver.add(({ upstream, key, reason }) => this.keyFailovers.inc({ upstream, key, reason }));
    this.upstream.keyRested.add(({ upstream, key }) => this.keyRests.inc({ upstream, key }));
    this.breakers.onStateChange((model, state, upstream) => {
      this.breakerState.set({ upstream, model }, BREAKER_STATE_VALUES[state]);
      this.breakerTransitions.inc({ upstream, model, state });
    });
    if (this.database) this.followDependency(this.database.status);
    if (this.redis.configured) this.followDependency(this.redis.status);
  }

  /** A refused call counts as a request with its outcome; an admitted one adds its duration, tokens and cost. */
  private callEnded(record: CallRecord): void {
    const { outcome } = record;
    this.endpointRequests.inc({ endpoint: record.endpoint, outcome });
    if (!record.admitted) {
      this.requests.inc({ model: record.modelRequested, outcome });
      return;
    }
    const model = record.modelServed ?? record.modelRequested;
    const tenant = this.tenantLabel(record.tenantId);
    this.requests.inc({ model, outcome });
    this.requestDuration.observe({ model, outcome }, record.latencyMs / 1000);
    this.tokens.inc({ tenant, model, kind: 'prompt' }, record.promptTokens);
    this.tokens.inc({ tenant, model, kind: 'completion' }, record.completionTokens);
    if (record.cachedTokens > 0) this.tokenDetails.inc({ tenant, model, kind: 'cached' }, record.cachedTokens);
    if (record.reasoningTokens > 0) this.tokenDetails.inc({ tenant, model, kind: 'reasoning' }, record.reasoningTokens);
    this.cost.inc({ tenant, model }, record.costUsd);
  }

  /** A request that is a client's own retry (X-Stainless-Retry-Count above 0): a sign that retries multiply. */
  countClientRetry(tenantId: string): void {
    this.clientRetries.inc({ tenant: this.tenantLabel(tenantId) });
  }

  /** Only tenants with a label of their own are exported: `other` would mix many tenants' quotas into one number. */
  setQuotaRemaining(tenantId: string, quota: string, remaining: number | undefined): void {
    const tenant = this.tenantLabel(tenantId);
    if (tenant !== tenantId) return;
    if (remaining === undefined) this.quotaRemaining.remove({ tenant, quota });
    else this.quotaRemaining.set({ tenant, quota }, remaining);
  }

  private followDependency(status: DependencyStatus): void {
    const dependency = status.dependency;
    this.dependencyUp.set({ dependency }, status.up ? 1 : 0);
    status.onChange((up) => this.dependencyUp.set({ dependency }, up ? 1 : 0));
  }

  private tenantLabel(tenantId: string): string {
    if (this.labelledTenants.has(tenantId)) return tenantId;
    if (this.labelledTenants.size >= this.telemetry.maxTenantLabels) return 'other';
    this.labelledTenants.add(tenantId);
    return tenantId;
  }
}
