import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { EntityManager, In, LessThan } from 'typeorm';
import { QuotaName, TenantQuotaExceededError } from '../errors/ai-errors';
import { Database } from '../persistence/database';
import { QuotaUsageEntity } from './quota-usage.entity';
import { ReservationEntity } from './reservation.entity';
import { TenantLimits } from './tenant-limits';
import { UsageDeadLetterEntity } from './usage-dead-letter.entity';
import { UsageRecordEntity } from './usage-record.entity';
import { utcPeriods } from './utc-periods';

export interface Spend {
  tokens: number;
  costMicroUsd: number;
}

export interface ReservationRequest extends Spend {
  tenantId: string;
  requestId: string;
  /** What the ledger row of a reservation whose replica died is written from. */
  keyId: string | null;
  model: string;
  stream: boolean;
  /** The part of `tokens` that is the prompt. */
  promptTokens: number;
  limits: Pick<TenantLimits, 'requestsPerDay' | 'tokensPerMonth' | 'costPerMonthUsd'>;
  now: number;
  /** When the reservation, unless renewed, is taken for one whose replica died. */
  expiresAt: number;
}

export interface Reservation extends Spend {
  id: string;
  tenantId: string;
  day: string;
  month: string;
}

/** A call's end: its reservation replaced by the usage of its ledger row. */
export interface Settlement {
  reservation: Reservation;
  row: UsageRecordEntity;
}

/** The outcome of a call whose replica stopped before settling it: billed as reserved, the upper bound. */
export const ABANDONED_OUTCOME = 'abandoned';

export interface QuotaUsage {
  day: string;
  month: string;
  requestsToday: number;
  tokensThisMonth: number;
  costThisMonthMicroUsd: number;
}

/** Rows per renewing UPDATE, well inside every driver's limit on bound parameters. */
const RENEW_BATCH = 500;
/** The ledger's latency column is a 32-bit integer. */
const MAX_LATENCY_MS = 2_147_483_647;

/**
 * One statement, written with PostgreSQL's `$n` placeholders (which may repeat); for SQLite's driver,
 * which binds `?` by position only, the text with `?` and which parameter each `?` takes.
 */
interface Sql {
  text: string;
  sqlite: { text: string; order: number[] };
}

function sql(text: string): Sql {
  const order: number[] = [];
  const sqliteText = text.replace(/\$(\d+)/g, (_, number: string) => (order.push(Number(number) - 1), '?'));
  return { text, sqlite: { text: sqliteText, order } };
}

const TODAYS_REQUESTS = '(CASE WHEN day = $1 THEN day_requests ELSE 0 END)';

/** $1 day, $2 tokens, $3 cost, $4 tenant, $5 month, $6..$8 the limits (NULL: none). Raw SQL: it runs on every call. */
const RESERVE_TEMPLATE = (cast: (parameter: string) => string) => `UPDATE quota_usage
  SET day_requests = ${TODAYS_REQUESTS} + 1, day = $1, tokens = tokens + $2, cost_micro_usd = cost_micro_usd + $3
  WHERE tenant_id = $4 AND month = $5
    AND (${cast('$6')} IS NULL OR ${TODAYS_REQUESTS} + 1 <= $6)
    AND (${cast('$7')} IS NULL OR tokens + $2 <= $7)
    AND (${cast('$8')} IS NULL OR cost_micro_usd + $3 <= $8)`;
const RESERVE = sql(RESERVE_TEMPLATE((parameter) => parameter));
// PostgreSQL must know a parameter's type before it can test it for NULL.
const RESERVE_ON_POSTGRES = sql(RESERVE_TEMPLATE((parameter) => `${parameter}::bigint`));

const INSERT_MONTH_ROW = sql(
  `INSERT INTO quota_usage (tenant_id, month, day, day_requests, tokens, cost_micro_usd) VALUES ($1, $2, $3, 0, 0, 0) ON CONFLICT DO NOTHING`,
);

const INSERT_RESERVATION = sql(
  `INSERT INTO reservations (id, tenant_id, request_id, key_id, model, stream, day, month, tokens, prompt_tokens, cost_micro_usd, expires_at, created_at)
   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
);

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
      if (!(await this.addWithinQuota(manager, request, day, month))) throw await this.exceeded(manager, request, day, month);
      const reservation = { id: randomUUID(), tenantId: request.tenantId, day, month, tokens: request.tokens, costMicroUsd: request.costMicroUsd };
      const { requestId, keyId, model, stream, promptTokens, expiresAt, now } = request;
      await this.run(manager, INSERT_RESERVATION, [reservation.id, reservation.tenantId, requestId, keyId, model, stream, day, month, reservation.tokens, promptTokens, reservation.costMicroUsd, expiresAt, now]);
      return reservation;
    });
  }

  /**
   * Replaces each estimate with what was really used and writes the ledger rows, in one transaction:
   * the counters and the ledger move together or not at all. A reservation already billed by the
   * sweep (it expired: its replica was taken for dead) is left as billed.
   */
  async settleAll(settlements: Settlement[]): Promise<void> {
    await this.db.transaction(async (manager) => {
      const deltas = new Map<string, Spend & { tenantId: string; month: string }>();
      const rows: UsageRecordEntity[] = [];
      for (const { reservation, row } of settlements) {
        if (!(await this.takeReservation(manager, reservation.id))) continue;
        const key = `${reservation.tenantId}/${reservation.month}`;
        const delta = deltas.get(key) ?? { tenantId: reservation.tenantId, month: reservation.month, tokens: 0, costMicroUsd: 0 };
        delta.tokens += row.promptTokens + row.completionTokens - reservation.tokens;
        delta.costMicroUsd += row.costMicroUsd - reservation.costMicroUsd;
        deltas.set(key, delta);
        rows.push(row);
      }
      for (const delta of deltas.values()) await this.addToMonth(manager, delta, delta);
      if (rows.length > 0) await manager.insert(UsageRecordEntity, rows);
    });
  }

  /** Takes a settlement whose ledger row cannot be written out of the way; its reservation's budget stays counted. */
  async deadLetter({ reservation, row }: Settlement, error: string, now: number): Promise<void> {
    await this.db.transaction(async (manager) => {
      await this.takeReservation(manager, reservation.id);
      await manager.insert(UsageDeadLetterEntity, {
        id: randomUUID(),
        tenantId: reservation.tenantId,
        reservation: JSON.stringify(reservation),
        row: JSON.stringify(row),
        error: error.slice(0, 2_000),
        createdAt: now,
      });
    });
  }

  /** Keeps the reservations of calls still running from being taken for abandoned. */
  async renew(ids: string[], expiresAt: number): Promise<void> {
    for (let from = 0; from < ids.length; from += RENEW_BATCH) {
      const batch = ids.slice(from, from + RENEW_BATCH);
      await this.db.transaction((manager) => manager.update(ReservationEntity, { id: In(batch) }, { expiresAt }));
    }
  }

  /**
   * Bills the reservations that were not renewed in time (their replica died mid-call) as reserved,
   * the most the upstream can have billed, and writes their ledger rows; returns how many.
   */
  async billExpired(now: number, batch = 500): Promise<number> {
    const expired = await this.db.manager.find(ReservationEntity, { where: { expiresAt: LessThan(now) }, take: batch });
    if (expired.length === 0) return 0;
    return this.db.transaction(async (manager) => {
      const rows: UsageRecordEntity[] = [];
      // Deleting first makes this idempotent against a settlement or another replica's sweep.
      for (const reservation of expired) if (await this.takeReservation(manager, reservation.id)) rows.push(abandonedRow(reservation, now));
      if (rows.length > 0) await manager.insert(UsageRecordEntity, rows);
      return rows.length;
    });
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

  /**
   * The month's row exists for every call but a tenant's first of the month: it is created only when the
   * reservation found none (or a concurrent first call is creating it), and the reservation is tried again.
   */
  private async addWithinQuota(manager: EntityManager, request: ReservationRequest, day: string, month: string): Promise<boolean> {
    if (await this.conditionalAdd(manager, request, day, month)) return true;
    await this.run(manager, INSERT_MONTH_ROW, [request.tenantId, month, day]);
    return this.conditionalAdd(manager, request, day, month);
  }

  /** The reservation itself: one conditional UPDATE that adds the request only if every quota holds (a NULL limit holds). */
  private async conditionalAdd(manager: EntityManager, request: ReservationRequest, day: string, month: string): Promise<boolean> {
    const { requestsPerDay, tokensPerMonth, costPerMonthUsd } = request.limits;
    const maxCost = costPerMonthUsd === null ? null : usdToMicro(costPerMonthUsd);
    const parameters = [day, request.tokens, request.costMicroUsd, request.tenantId, month, requestsPerDay, tokensPerMonth, maxCost];
    return (await this.run(manager, this.db.dialect === 'postgres' ? RESERVE_ON_POSTGRES : RESERVE, parameters)) === 1;
  }

  /** Runs one statement written with `$n` placeholders; returns the rows it changed. */
  private async run(manager: EntityManager, statement: Sql, parameters: unknown[]): Promise<number> {
    const runner = manager.queryRunner!;
    const result =
      this.db.dialect === 'postgres'
        ? await runner.query(statement.text, parameters, true)
        : await runner.query(statement.sqlite.text, statement.sqlite.order.map((index) => parameters[index]), true);
    return result.affected ?? 0;
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

  /** Whether this caller removed the reservation (and so owns its settlement). */
  private async takeReservation(manager: EntityManager, id: string): Promise<boolean> {
    const taken = await manager.delete(ReservationEntity, { id });
    return taken.affected === 1;
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

function abandonedRow(reservation: ReservationEntity, now: number): UsageRecordEntity {
  return {
    id: randomUUID(),
    requestId: reservation.requestId,
    tenantId: reservation.tenantId,
    keyId: reservation.keyId,
    modelRequested: reservation.model,
    modelServed: null,
    promptTokens: reservation.promptTokens,
    completionTokens: reservation.tokens - reservation.promptTokens,
    costMicroUsd: reservation.costMicroUsd,
    attempts: 0,
    outcome: ABANDONED_OUTCOME,
    stream: reservation.stream,
    latencyMs: Math.min(MAX_LATENCY_MS, now - reservation.createdAt),
    createdAt: reservation.createdAt,
  };
}

export function usdToMicro(usd: number): number {
  return Math.round(usd * 1_000_000);
}
