import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { EntityManager, LessThan } from 'typeorm';
import { QuotaName, TenantQuotaExceededError } from '../errors/ai-errors';
import { Database } from '../persistence/database';
import { QuotaUsageEntity } from './quota-usage.entity';
import { ReservationEntity } from './reservation.entity';
import { TenantLimits } from './tenant-limits';
import { utcPeriods } from './utc-periods';

export interface Spend {
  tokens: number;
  costMicroUsd: number;
}

export interface ReservationRequest extends Spend {
  tenantId: string;
  requestId: string;
  limits: Pick<TenantLimits, 'requestsPerDay' | 'tokensPerMonth' | 'costPerMonthUsd'>;
  now: number;
  /** When an unsettled reservation (its process died) gives its budget back. */
  expiresAt: number;
}

export interface Reservation extends Spend {
  id: string;
  tenantId: string;
  day: string;
  month: string;
}

export interface QuotaUsage {
  day: string;
  month: string;
  requestsToday: number;
  tokensThisMonth: number;
  costThisMonthMicroUsd: number;
}

const TODAYS_REQUESTS = '(CASE WHEN day = :day THEN day_requests ELSE 0 END)';

/**
 * Quota counters and reservations. A reservation is one conditional UPDATE of the tenant's row
 * for the month — it adds the request and its estimate only if every quota still holds — so
 * concurrent requests, on any number of replicas, can never overspend: the database decides.
 */
@Injectable()
export class QuotaRepository {
  constructor(private readonly db: Database) {}

  async reserve(request: ReservationRequest): Promise<Reservation> {
    const { day, month } = utcPeriods(request.now);
    return this.db.transaction(async (manager) => {
      await this.ensureRow(manager, request.tenantId, day, month);
      const reserved = await this.conditionalAdd(manager, request, day, month);
      if (!reserved) throw await this.exceeded(manager, request, day, month);
      const reservation = { id: randomUUID(), tenantId: request.tenantId, day, month, tokens: request.tokens, costMicroUsd: request.costMicroUsd };
      await manager.insert(ReservationEntity, { ...reservation, requestId: request.requestId, expiresAt: request.expiresAt, createdAt: request.now });
      return reservation;
    });
  }

  /**
   * Replaces the estimate with what was really used. If the reservation expired and was released
   * meanwhile (a call longer than its TTL), the usage and the request are added back whole.
   */
  async settle(reservation: Reservation, actual: Spend): Promise<void> {
    await this.db.transaction(async (manager) => {
      const held = await manager.delete(ReservationEntity, { id: reservation.id });
      const stillHeld = held.affected === 1;
      await this.addToMonth(manager, reservation, {
        tokens: actual.tokens - (stillHeld ? reservation.tokens : 0),
        costMicroUsd: actual.costMicroUsd - (stillHeld ? reservation.costMicroUsd : 0),
      });
      if (!stillHeld) await this.addRequest(manager, reservation, +1);
    });
  }

  /** Gives back the budget of reservations whose process never settled them; returns how many. */
  async releaseExpired(now: number, batch = 500): Promise<number> {
    const expired = await this.db.manager.find(ReservationEntity, { where: { expiresAt: LessThan(now) }, take: batch });
    let released = 0;
    for (const reservation of expired) {
      released += await this.db.transaction(async (manager) => {
        // Deleting first makes this idempotent against a settle or another replica's sweep.
        const held = await manager.delete(ReservationEntity, { id: reservation.id });
        if (held.affected !== 1) return 0;
        await this.addToMonth(manager, reservation, { tokens: -reservation.tokens, costMicroUsd: -reservation.costMicroUsd });
        await this.addRequest(manager, reservation, -1);
        return 1;
      });
    }
    return released;
  }

  async usage(tenantId: string, now: number): Promise<QuotaUsage> {
    const { day, month } = utcPeriods(now);
    const row = await this.db.manager.findOneBy(QuotaUsageEntity, { tenantId, month });
    return {
      day,
      month,
      requestsToday: row && row.day === day ? row.dayRequests : 0,
      tokensThisMonth: row?.tokens ?? 0,
      costThisMonthMicroUsd: row?.costMicroUsd ?? 0,
    };
  }

  private async ensureRow(manager: EntityManager, tenantId: string, day: string, month: string): Promise<void> {
    await manager
      .createQueryBuilder()
      .insert()
      .into(QuotaUsageEntity)
      .values({ tenantId, month, day, dayRequests: 0, tokens: 0, costMicroUsd: 0 })
      .orIgnore()
      .execute();
  }

  private async conditionalAdd(manager: EntityManager, request: ReservationRequest, day: string, month: string): Promise<boolean> {
    const { requestsPerDay, tokensPerMonth, costPerMonthUsd } = request.limits;
    const update = manager
      .createQueryBuilder()
      .update(QuotaUsageEntity)
      .set({
        dayRequests: () => `${TODAYS_REQUESTS} + 1`,
        day: () => ':day',
        tokens: () => 'tokens + :tokens',
        costMicroUsd: () => 'cost_micro_usd + :cost',
      })
      .where('tenant_id = :tenantId AND month = :month')
      .setParameters({ tenantId: request.tenantId, month, day, tokens: request.tokens, cost: request.costMicroUsd });
    if (requestsPerDay !== null) update.andWhere(`${TODAYS_REQUESTS} + 1 <= :maxRequests`, { maxRequests: requestsPerDay });
    if (tokensPerMonth !== null) update.andWhere('tokens + :tokens <= :maxTokens', { maxTokens: tokensPerMonth });
    if (costPerMonthUsd !== null) update.andWhere('cost_micro_usd + :cost <= :maxCost', { maxCost: usdToMicro(costPerMonthUsd) });
    const result = await update.execute();
    return result.affected === 1;
  }

  /** Which quota refused the reservation, and when it renews. */
  private async exceeded(manager: EntityManager, request: ReservationRequest, day: string, month: string): Promise<TenantQuotaExceededError> {
    const row = await manager.findOneByOrFail(QuotaUsageEntity, { tenantId: request.tenantId, month });
    const periods = utcPeriods(request.now);
    const { requestsPerDay, tokensPerMonth } = request.limits;
    const requestsToday = row.day === day ? row.dayRequests : 0;
    const quota: QuotaName =
      requestsPerDay !== null && requestsToday + 1 > requestsPerDay
        ? 'requests_per_day'
        : tokensPerMonth !== null && row.tokens + request.tokens > tokensPerMonth
          ? 'tokens_per_month'
          : 'cost_per_month';
    const renewsAt = quota === 'requests_per_day' ? periods.dayEndsAt : periods.monthEndsAt;
    return new TenantQuotaExceededError(quota, renewsAt - request.now);
  }

  /** Counts a request in or out of its day, if the row still counts that day. */
  private async addRequest(manager: EntityManager, at: { tenantId: string; month: string; day: string }, delta: 1 | -1): Promise<void> {
    await manager
      .createQueryBuilder()
      .update(QuotaUsageEntity)
      .set({ dayRequests: () => `day_requests + ${delta}` })
      .where('tenant_id = :tenantId AND month = :month AND day = :day AND day_requests + :delta >= 0', { ...at, delta })
      .execute();
  }

  private async addToMonth(manager: EntityManager, at: { tenantId: string; month: string }, delta: Spend): Promise<void> {
    await manager
      .createQueryBuilder()
      .update(QuotaUsageEntity)
      .set({ tokens: () => 'tokens + :tokens', costMicroUsd: () => 'cost_micro_usd + :cost' })
      .where('tenant_id = :tenantId AND month = :month', { tenantId: at.tenantId, month: at.month })
      .setParameters({ tokens: delta.tokens, cost: delta.costMicroUsd })
      .execute();
  }
}

export function usdToMicro(usd: number): number {
  return Math.round(usd * 1_000_000);
}
