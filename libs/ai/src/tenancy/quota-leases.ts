import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { TenancyOptions } from '../ai-module-options';
import { TENANCY_OPTIONS } from '../ai-option-slices';
import { Clock, InjectClock } from '../common/clock';
import { DependencyUnavailableError } from '../errors/ai-errors';
import { Budget, LeasedReservation, LeaseDayOverError, QuotaLimits, QuotaRepository, Reservation, ReservationRequest } from './quota.repository';
import { utcPeriods } from './utc-periods';

/** Calls written as reservations in one transaction, at most. */
const COMMIT_BATCH = 500;

/**
 * The event loop's next turn, as it was when this module loaded: how long a batch waits is a matter of the
 * loop, not of time, so a test's fake timers must not hold it back.
 */
const nextTurn: (run: () => void) => unknown = setImmediate;

/** One replica's lease of one tenant's quota, as the replica knows it. */
class Lease {
  readonly id = randomUUID();
  /** What it holds for new calls: taken as calls are admitted, before their reservations are written. */
  readonly held: Budget = { requests: 0, tokens: 0, costMicroUsd: 0 };
  /** Calls taken from it whose reservations are not written yet. */
  uncommitted = 0;
  /** The top-up under way, which the other calls that need one wait for. */
  toppingUp?: Promise<void>;
  /** Whether the database has a row for it (its first top-up). */
  stored = false;

  constructor(
    readonly tenantId: string,
    readonly day: string,
    readonly month: string,
    /** The limits it was taken under: changed limits take a new lease. */
    readonly limitsKey: string,
    public usedAt: number,
  ) {}

  covers(need: Budget): boolean {
    return this.held.requests >= need.requests && this.held.tokens >= need.tokens && this.held.costMicroUsd >= need.costMicroUsd;
  }

  add(budget: Budget, sign: 1 | -1 = 1): void {
    this.held.requests += sign * budget.requests;
    this.held.tokens += sign * budget.tokens;
    this.held.costMicroUsd += sign * budget.costMicroUsd;
  }

  idle(): boolean {
    return this.uncommitted === 0 && this.toppingUp === undefined;
  }
}

interface PendingCommit {
  lease: Lease;
  item: LeasedReservation;
  othersRunning: boolean;
  resolve(reservation: Reservation): void;
  reject(error: unknown): void;
}

/** The lease a call was admitted from was swept as expired before its reservation was written. */
class LeaseLostError extends Error {}

/**
 * Reservations without a database round trip per call. Each replica leases a slice of a tenant's quota
 * (QuotaRepository.topUpLease: one transaction for many calls, a slice that shrinks to a single call as the
 * quota runs out) and admits calls from it in memory; the reservations of the calls admitted meanwhile are
 * written together, in one transaction that also takes their budget out of the lease, before any of them
 * goes upstream. So a quota is never overspent, across any number of replicas, and every admitted call has
 * a reservation in the database that another replica bills if this one dies. What a lease still holds goes
 * back when it has been idle for `leaseIdleMs`, at shutdown, or — its replica dead — once it expires.
 */
@Injectable()
export class QuotaLeases implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(QuotaLeases.name);
  /** Each tenant's current lease. */
  private readonly leases = new Map<string, Lease>();
  /** Leases replaced by a new one (a new day, changed limits), returned once their calls are written. */
  private readonly retired = new Set<Lease>();
  /** The latest UTC day each tenant's quota row is known to count: a call that began before midnight takes a lease of it. */
  private readonly currentDays = new Map<string, string>();
  private pending: PendingCommit[] = [];
  private flushScheduled = false;
  private committing?: Promise<void>;
  private returner?: NodeJS.Timeout;

  constructor(
    private readonly quota: QuotaRepository,
    @InjectClock() private readonly clock: Clock,
    @Inject(TENANCY_OPTIONS) private readonly tenancy: TenancyOptions,
  ) {}

  onModuleInit(): void {
    const { leaseIdleMs } = this.tenancy;
    this.returner = setInterval(() => void this.returnIdle(), Math.max(1, leaseIdleMs / 2));
    this.returner.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.returner);
  }

  /**
   * Admits the call within every quota and resolves with its reservation once that is in the database. A call
   * alone is written at once; one that `othersRunning` are likely to join waits a turn of the event loop, so that
   * the calls that arrive in that turn are written in one transaction (on SQLite, which writes on the loop, that
   * is what makes a batch).
   */
  async reserve(request: ReservationRequest, othersRunning = false): Promise<Reservation> {
    const need = needOf(request);
    for (let attempt = 1; ; attempt++) {
      const lease = await this.takeFromLease(request, need);
      try {
        return await this.commit(lease, need, request, othersRunning);
      } catch (error) {
        // Swept while its replica could not renew it: start again from a new lease, once.
        if (!(error instanceof LeaseLostError) || attempt === 2) throw error;
      }
    }
  }

  /** Pushes out the expiry of every lease this replica holds. */
  async renew(expiresAt: number): Promise<void> {
    const ids = [...this.leases.values(), ...this.retired].filter((lease) => lease.stored).map((lease) => lease.id);
    if (ids.length > 0) await this.quota.renewLeases(ids, expiresAt);
  }

  /** Gives back the leases idle for `leaseIdleMs`, and the retired ones whose calls are written. */
  async returnIdle(): Promise<void> {
    const idleSince = this.clock.now() - this.tenancy.leaseIdleMs;
    const returning = [...this.retired].filter((lease) => lease.idle());
    for (const lease of this.leases.values()) if (lease.idle() && lease.usedAt <= idleSince) returning.push(lease);
    await this.giveBack(returning);
  }

  /** At shutdown, after every call has ended: every lease goes back. */
  async returnAll(): Promise<void> {
    await this.committing;
    await this.giveBack([...this.leases.values(), ...this.retired]);
  }

  private async giveBack(leases: Lease[]): Promise<void> {
    if (leases.length === 0) return;
    for (const lease of leases) {
      this.retired.delete(lease);
      if (this.leases.get(lease.tenantId) === lease) this.leases.delete(lease.tenantId);
    }
    try {
      await this.quota.returnLeases(leases.filter((lease) => lease.stored).map((lease) => lease.id));
    } catch (error) {
      // Unreturned, they expire: the sweep of any replica gives their budget back then.
      if (!(error instanceof DependencyUnavailableError)) this.logger.error(`could not return ${leases.length} quota leases: ${(error as Error).message}`);
    }
  }

  /**
   * Takes the call's need from the tenant's lease for the call's day, topping the lease up until it covers it (one
   * top-up at a time per tenant). The check and the take are one synchronous step: no other call can come between.
   */
  private async takeFromLease(request: ReservationRequest, need: Budget): Promise<Lease> {
    for (;;) {
      const lease = this.currentLease(request);
      if (lease.covers(need)) {
        lease.add(need, -1);
        lease.usedAt = this.clock.now();
        return lease;
      }
      if (lease.toppingUp) {
        await lease.toppingUp.catch(() => undefined);
        continue;
      }
      const toppingUp = this.topUp(lease, request, need);
      lease.toppingUp = toppingUp.finally(() => (lease.toppingUp = undefined));
      try {
        await lease.toppingUp;
      } catch (error) {
        if (!(error instanceof LeaseDayOverError)) throw error;
      }
    }
  }

  private currentLease(request: ReservationRequest): Lease {
    const periods = utcPeriods(request.now);
    const { month } = periods;
    const known = this.currentDays.get(request.tenantId);
    const day = known !== undefined && known > periods.day && known.startsWith(month) ? known : periods.day;
    const limitsKey = limitsKeyOf(request.limits);
    const lease = this.leases.get(request.tenantId);
    if (lease && lease.day === day && lease.month === month && lease.limitsKey === limitsKey) return lease;
    if (lease) this.retired.add(lease);
    const fresh = new Lease(request.tenantId, day, month, limitsKey, this.clock.now());
    this.leases.set(request.tenantId, fresh);
    return fresh;
  }

  private async topUp(lease: Lease, request: ReservationRequest, need: Budget): Promise<void> {
    const { id, tenantId, day, month } = lease;
    let added: Budget;
    try {
      added = await this.quota.topUpLease({ id, tenantId, day, month, limits: request.limits, held: { ...lease.held }, need, now: request.now, expiresAt: request.expiresAt });
    } catch (error) {
      // The row counts a later day already: the next lease is of that day (this one is retired by `currentLease`).
      if (error instanceof LeaseDayOverError) this.currentDays.set(tenantId, error.currentDay);
      throw error;
    }
    lease.add(added);
    lease.stored = true;
  }

  /** Queues the call's reservation for the next batch, written as soon as the one before it is. */
  private commit(lease: Lease, fromLease: Budget, request: ReservationRequest, othersRunning: boolean): Promise<Reservation> {
    const { day, month } = lease;
    const reservation = { id: randomUUID(), tenantId: request.tenantId, day, month, tokens: request.tokens, costMicroUsd: request.costMicroUsd };
    lease.uncommitted += 1;
    return new Promise((resolve, reject) => {
      this.pending.push({ lease, item: { leaseId: lease.id, fromLease, request, reservation }, othersRunning, resolve, reject });
      this.scheduleCommit();
    });
  }

  private scheduleCommit(): void {
    if (this.flushScheduled || this.committing || this.pending.length === 0) return;
    this.flushScheduled = true;
    // The calls admitted while the previous batch was being written, or in this turn of the loop, go in this one.
    const wait = this.pending.some((pending) => pending.othersRunning) ? nextTurn : queueMicrotask;
    wait(() => {
      this.flushScheduled = false;
      const batch = this.pending.splice(0, COMMIT_BATCH);
      this.committing = this.write(batch).finally(() => {
        this.committing = undefined;
        this.scheduleCommit();
      });
    });
  }

  private async write(batch: PendingCommit[]): Promise<void> {
    let lost: Set<string>;
    try {
      lost = await this.quota.commitReservations(batch.map((pending) => pending.item));
    } catch (error) {
      for (const { lease, item, reject } of batch) {
        lease.uncommitted -= 1;
        lease.add(item.fromLease);
        reject(error);
      }
      return;
    }
    for (const { lease, item, resolve, reject } of batch) {
      lease.uncommitted -= 1;
      if (!lost.has(lease.id)) {
        resolve(item.reservation);
        continue;
      }
      // Retired rather than forgotten: should its row still hold anything, returning it gives that back.
      if (this.leases.get(lease.tenantId) === lease) this.leases.delete(lease.tenantId);
      this.retired.add(lease);
      reject(new LeaseLostError(`the quota lease of tenant ${lease.tenantId} expired before its calls were written`));
    }
  }
}

/** What the call takes from its lease: nothing of a quota without limit. */
function needOf({ limits, tokens, costMicroUsd }: ReservationRequest): Budget {
  return {
    requests: limits.requestsPerDay === null ? 0 : 1,
    tokens: limits.tokensPerMonth === null ? 0 : tokens,
    costMicroUsd: limits.costPerMonthUsd === null ? 0 : costMicroUsd,
  };
}

function limitsKeyOf({ requestsPerDay, tokensPerMonth, costPerMonthUsd }: QuotaLimits): string {
  return `${requestsPerDay}/${tokensPerMonth}/${costPerMonthUsd}`;
}
