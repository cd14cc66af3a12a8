import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { TenancyOptions } from '../ai-module-options';
import { TENANCY_OPTIONS } from '../ai-option-slices';
import { Admission, AdmissionContext, Admissions, endedCallRecord, MeteredCall, meteredChat, TokenEstimate } from '../chat/admissions';
import { Clock, InjectClock } from '../common/clock';
import { Pricing } from '../context/pricing';
import { partsTokenBound } from '../context/media-token-bounds';
import { ModelRegistry } from '../context/model-registry';
import { TokenCounter } from '../context/token-counter';
import { BreakerRegistry, BreakerState } from '../upstream/breaker-registry';
import { CallEvents, CallRecord } from '../telemetry/call-events';
import { DependencyUnavailableError, isAiError, ModelNotAllowedError, ModelNotPricedError } from '../errors/ai-errors';
import { TakenLimits, TenantLimiter } from '../limits/tenant-limiter';
import { QuotaLeases } from './quota-leases';
import { QuotaRepository, Reservation, ReservationRequest } from './quota.repository';
import { TenantService } from './tenant.service';
import { ActiveTenant, TenantLimits } from './tenant-limits';
import { UsageLedger } from './usage-ledger';
import type { ChatRequest } from '../chat/chat-request';

export type { Admission, AdmissionContext, CallEnd, TokenEstimate } from '../chat/admissions';

/**
 * The tenant's side of every call, in the order of DESIGN.md's request path: the tenant, its
 * request rate, its allowed models, its token rate, its requests in flight, and an atomic
 * reservation against its quotas; after the call, settlement to real usage and the ledger.
 */
@Injectable()
export class Governance extends Admissions implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(Governance.name);
  /** The reservations of calls still running on this replica, renewed so that no sweep takes them for abandoned. */
  private readonly live = new Map<string, Reservation>();
  private sweeper?: NodeJS.Timeout;
  private renewer?: NodeJS.Timeout;

  constructor(
    private readonly tenants: TenantService,
    private readonly limiter: TenantLimiter,
    private readonly quota: QuotaRepository,
    private readonly leases: QuotaLeases,
    private readonly ledger: UsageLedger,
    private readonly pricing: Pricing,
    private readonly tokens: TokenCounter,
    private readonly registry: ModelRegistry,
    private readonly events: CallEvents,
    private readonly breakers: BreakerRegistry,
    @InjectClock() private readonly clock: Clock,
    @Inject(TENANCY_OPTIONS) private readonly tenancy: TenancyOptions,
  ) {
    super();
  }

  admit(request: ChatRequest, context: AdmissionContext): Promise<Admission> {
    return this.admitCall(meteredChat(request, context.promptTokens ?? this.countPrompt(request)), context);
  }

  async admitCall(call: MeteredCall, context: AdmissionContext): Promise<Admission> {
    const admittedAt = this.clock.now();
    const tenant = context.tenant ?? (await this.tenants.resolveActive(context.tenantId));
    const { limits } = tenant;
    let taken: TakenLimits | undefined;
    try {
      this.assertModelAllowed(limits, call.model);
      this.assertCostLimitPriced(tenant, context.servingModels ?? [call.model]);
      const estimate = this.estimateCall(call, context.servingModels);
      const estimatedTokens = estimate.promptTokens + estimate.completionTokens;
      const rateLimits = { ...limits, requestsPerMinute: context.requestAlreadyCounted ? null : limits.requestsPerMinute };
      taken = await this.limiter.take(tenant.id, rateLimits, estimatedTokens);
      const reservationRequest: ReservationRequest = {
        tenantId: tenant.id,
        requestId: context.requestId,
        keyId: context.keyId ?? null,
        endpoint: call.endpoint,
        model: call.model,
        stream: context.stream,
        promptTokens: estimate.promptTokens,
        tokens: estimatedTokens,
        costMicroUsd: estimate.costMicroUsd,
        limits,
        now: admittedAt,
        expiresAt: admittedAt + this.tenancy.reservationTtlMs,
      };
      // Other calls running: more are arriving, and this one's reservation can wait a turn to be written with theirs.
      const reservation = await this.leases.reserve(reservationRequest, this.live.size > 0);
      return this.admission({ tenant, estimate, taken, reservation, call, context, admittedAt });
    } catch (error) {
      // A call refused after its limits were taken used none of them.
      taken?.release(0);
      if (isAiError(error)) error.rateLimits = { ...taken?.rateLimits, ...error.rateLimits };
      const outcome = isAiError(error) ? error.code : 'internal_error';
      const refused = { tenantId: tenant.id, outcome, latencyMs: this.clock.now() - admittedAt, breakerState: this.breakers.stateOf(call.model) };
      this.events.callEnded(refusal(call, context, refused), context.onCallEnded);
      throw error;
    }
  }

  /** A plan that lists its models must list `model`. */
  assertModelAllowed(limits: TenantLimits, model: string): void {
    if (limits.allowedModels !== null && !limits.allowedModels.includes(model)) throw new ModelNotAllowedError(model, limits.allowedModels);
  }

  /** A tenant's cost limit, its plan's or its own, holds only for models with a price: a call priced at 0 would pass it for free. */
  private assertCostLimitPriced(tenant: ActiveTenant, servingModels: string[]): void {
    if (tenant.limits.costPerMonthUsd === null) return;
    const unpriced = servingModels.find((model) => !this.pricing.isPriced(model));
    if (unpriced !== undefined) throw new ModelNotPricedError(`tenant '${tenant.id}'`, unpriced);
  }

  tenant(tenantId: string): Promise<ActiveTenant> {
    return this.tenants.resolveActive(tenantId);
  }

  /** The most a chat request can be billed (see estimateCall); `counted`: its prompt's text tokens, when known. */
  estimate(request: ChatRequest, servingModels: string[] = [request.model], counted?: number): TokenEstimate {
    return this.estimateCall(meteredChat(request, counted ?? this.countPrompt(request)), servingModels);
  }

  /**
   * The most a call can be billed, priced as the dearest model that may answer it (a fallback may be dearer than
   * the model asked for): its text, each media part at the most its model bills one, and for every choice its
   * completion limit or, without one, the largest completion the model can write after the prompt's text.
   */
  estimateCall(call: MeteredCall, servingModels: string[] = [call.model]): TokenEstimate {
    const textTokens = call.promptTokens;
    const byModel = servingModels.map((model): TokenEstimate => {
      const promptTokens = textTokens + partsTokenBound(call.mediaParts, this.registry.mediaTokenBounds(model));
      const completionTokens = (call.completionLimit ?? this.registry.largestCompletion(model, call.countedPromptTokens ?? textTokens)) * call.choices;
      return { promptTokens, completionTokens, costMicroUsd: this.pricing.costMicroUsd(model, promptTokens, completionTokens) };
    });
    const most = (field: keyof TokenEstimate) => Math.max(...byModel.map((estimate) => estimate[field]));
    return { promptTokens: most('promptTokens'), completionTokens: most('completionTokens'), costMicroUsd: most('costMicroUsd') };
  }

  private countPrompt(request: ChatRequest): number {
    return this.tokens.countPrompt(request, this.registry.encodingOf(request.model));
  }

  onModuleInit(): void {
    this.sweeper = setInterval(() => void this.billExpiredReservations(), this.tenancy.sweepIntervalMs);
    this.sweeper.unref();
    // Three renewals per TTL: a reservation expires only after its replica missed all three.
    this.renewer = setInterval(() => void this.renewLiveReservations(), this.tenancy.reservationTtlMs / 3);
    this.renewer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.sweeper);
    clearInterval(this.renewer);
  }

  /** Resolves once every call ended so far has its limits released and its ledger row written; then the quota leases go back. */
  async drain(): Promise<void> {
    await this.limiter.flush();
    await this.ledger.flush();
    await this.leases.returnAll();
  }

  /**
   * Bills, as reserved, the reservations no replica renewed in time (their replica died mid-call), and gives back
   * what its expired quota leases held; returns how many reservations were billed.
   */
  async billExpiredReservations(): Promise<number> {
    try {
      const now = this.clock.now();
      await this.quota.returnExpiredLeases(now);
      return await this.quota.billExpired(now);
    } catch (error) {
      if (!(error instanceof DependencyUnavailableError)) this.logger.error(`could not bill expired reservations: ${(error as Error).message}`);
      return 0;
    }
  }

  /** Pushes out the expiry of every reservation whose call is still running here, and of this replica's quota leases. */
  async renewLiveReservations(): Promise<void> {
    const expiresAt = this.clock.now() + this.tenancy.reservationTtlMs;
    try {
      await this.leases.renew(expiresAt);
      if (this.live.size > 0) await this.quota.renew([...this.live.keys()], expiresAt);
    } catch (error) {
      if (!(error instanceof DependencyUnavailableError)) this.logger.error(`could not renew ${this.live.size} reservations: ${(error as Error).message}`);
    }
  }

  private admission(held: Held): Admission {
    this.live.set(held.reservation.id, held.reservation);
    let finished = false;
    return {
      tenant: held.tenant,
      estimate: held.estimate,
      rateLimits: held.taken.rateLimits,
      finish: (end) => {
        if (finished) return;
        finished = true;
        this.live.delete(held.reservation.id);
        const { tenant, call, context, admittedAt } = held;
        const model = end.modelServed ?? call.model;
        const costMicroUsd = this.pricing.costMicroUsd(model, end.usage?.promptTokens ?? 0, end.usage?.completionTokens ?? 0, end.usage?.cachedTokens);
        const breakerState = this.breakers.stateOf(model, end.upstream);
        const record = endedCallRecord({ context, tenant, call, end, costMicroUsd, latencyMs: this.clock.now() - admittedAt, breakerState });
        this.settle(held, record, costMicroUsd);
        this.events.callEnded(record, held.context.onCallEnded);
      },
    };
  }

  /** Frees the call's limits and queues its ledger row, which replaces its reservation with what it used. */
  private settle(held: Held, record: CallRecord, costMicroUsd: number): void {
    const { tenant, reservation } = held;
    const { promptTokens, completionTokens, outcome } = record;
    held.taken.release(promptTokens + completionTokens);
    this.ledger.record(reservation, {
      requestId: record.requestId,
      tenantId: tenant.id,
      keyId: record.keyId,
      endpoint: record.endpoint,
      modelRequested: record.modelRequested,
      modelServed: record.modelServed,
      promptTokens,
      completionTokens,
      cachedTokens: record.cachedTokens,
      reasoningTokens: record.reasoningTokens,
      costMicroUsd,
      attempts: record.attempts,
      outcome,
      stream: record.stream,
      latencyMs: record.latencyMs,
      createdAt: held.admittedAt,
    });
  }
}

/** What an admission holds until the call ends. */
interface Held {
  tenant: ActiveTenant;
  estimate: TokenEstimate;
  taken: TakenLimits;
  reservation: Reservation;
  call: MeteredCall;
  context: AdmissionContext;
  admittedAt: number;
}

/** A call a limit refused before it was admitted: nothing billed, nothing in the ledger. */
function refusal(
  call: MeteredCall,
  context: AdmissionContext,
  refused: { tenantId: string; outcome: string; latencyMs: number; breakerState: BreakerState },
): CallRecord {
  const { tenantId, outcome, latencyMs, breakerState } = refused;
  return {
    requestId: context.requestId,
    tenantId,
    keyId: context.keyId ?? null,
    endpoint: call.endpoint,
    modelRequested: call.model,
    modelServed: null,
    upstream: null,
    promptTokens: 0,
    completionTokens: 0,
    cachedTokens: 0,
    reasoningTokens: 0,
    costUsd: 0,
    attempts: 0,
    outcome,
    admitted: false,
    stream: context.stream,
    latencyMs,
    upstreamRequestId: null,
    breakerState,
  };
}
