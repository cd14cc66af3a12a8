import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { extname, join } from 'node:path';
import { EntityManager, In, LessThan } from 'typeorm';
import { QuotaName, TenantQuotaExceededError } from '../errors/ai-errors';
import type { Endpoint } from '../telemetry/call-events';
import { Database, Dialect } from '../persistence/database';
import { SqliteWriter } from '../persistence/sqlite-writer';
import { leaseGrant } from './lease-sizing';
import { QuotaLeaseEntity } from './quota-lease.entity';
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

/** What a call reserves, one figure per quota: itself, its tokens and its cost. */
export interface Budget {
  requests: number;
  tokens: number;
  costMicroUsd: number;
}

export type QuotaLimits = Pick<TenantLimits, 'requestsPerDay' | 'tokensPerMonth' | 'costPerMonthUsd'>;

export interface ReservationRequest extends Spend {
  tenantId: string;
  requestId: string;
  /** What the ledger row of a reservation whose replica died is written from. */
  keyId: string | null;
  endpoint: Endpoint;
  model: string;
  stream: boolean;
  /** The part of `tokens` that is the prompt. */
  promptTokens: number;
  limits: QuotaLimits;
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

/** A lease of a tenant's quota for one UTC day (its requests) and month (its tokens and cost). */
export interface LeaseKey {
  id: string;
  tenantId: string;
  day: string;
  month: string;
}

export interface LeaseTopUp extends LeaseKey {
  limits: QuotaLimits;
  /** What the lease holds for new calls, as its replica knows it, and what the asking call needs (0 for a quota without limit). */
  held: Budget;
  need: Budget;
  /** The last UTC instant of the day, so that a refusal says when the quota renews. */
  now: number;
  expiresAt: number;
}

/** What a reservation's row is written from, beside the reservation itself. */
export type ReservationFields = Pick<ReservationRequest, 'requestId' | 'keyId' | 'endpoint' | 'model' | 'stream' | 'promptTokens' | 'expiresAt' | 'now'>;

/** A call admitted from a lease, to be written as a reservation: `fromLease` is what it took from the lease. */
export interface LeasedReservation {
  leaseId: string;
  fromLease: Budget;
  request: ReservationFields;
  reservation: Reservation;
}

/** A call's end: its reservation replaced by the usage of its ledger row. */
export interface Settlement {
  reservation: Reservation;
  row: UsageRecordEntity;
}

/** A top-up's answer from SqliteWriter's thread. */
export type TopUpOutcome = { added: Budget } | { dayOver: string } | { exceeded: { quota: QuotaName; retryAfterMs: number } };

/** A batch that cannot be written in one round trip (see QuotaRepository.commitAtOnce). */
class NotAtOnce extends Error {}

/** A lease's day is over: the tenant's quota row already counts a later one. */
export class LeaseDayOverError extends Error {
  constructor(readonly currentDay: string) {
    super(`the quota row already counts ${currentDay}`);
  }
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
 * One statement, written with PostgreSQL's `$n` placeholders (which may repeat) and its tables as `{name}`, which
 * QuotaRepository.prepare turns into the statement its database runs.
 */
interface Sql {
  template: string;
}

const sql = (template: string): Sql => ({ template });

/** A statement as one database runs it: its tables named with the prefix; for SQLite, `?`s and the parameter each takes. */
interface Prepared {
  text: string;
  order?: number[];
}

function prepared(template: string, table: (name: string) => string, dialect: Dialect): Prepared {
  const text = template.replace(/\{(\w+)\}/g, (_, name: string) => table(name));
  if (dialect === 'postgres') return { text };
  const order: number[] = [];
  // PostgreSQL's casts (`$1::bigint`, which a VALUES list needs) mean nothing to SQLite, which takes values as bound.
  const sqliteText = text.replace(/\$(\d+)(::[a-z]+)?/g, (_, number: string) => (order.push(Number(number) - 1), '?'));
  return { text: sqliteText, order };
}

const INSERT_MONTH_ROW = sql(
  `INSERT INTO {quota_usage} (tenant_id, month, day, day_requests, tokens, cost_micro_usd, leased_requests, leased_tokens, leased_cost_micro_usd)
   VALUES ($1, $2, $3, 0, 0, 0, 0, 0, 0) ON CONFLICT DO NOTHING`,
);
const MONTH_ROW = `SELECT day, day_requests, tokens, cost_micro_usd, leased_requests, leased_tokens, leased_cost_micro_usd FROM {quota_usage} WHERE tenant_id = $1 AND month = $2`;
const READ_MONTH_ROW = sql(MONTH_ROW);
// PostgreSQL: the row stays locked until the top-up commits, so that replicas topping up at once take turns.
const LOCK_MONTH_ROW = sql(`${MONTH_ROW} FOR UPDATE`);

/** $3 day, $4 its requests, $5 the day's leased requests, $6/$7 tokens and cost added to the lease. */
const ADD_TO_LEASED = sql(
  `UPDATE {quota_usage} SET day = $3, day_requests = $4, leased_requests = $5, leased_tokens = leased_tokens + $6, leased_cost_micro_usd = leased_cost_micro_usd + $7
   WHERE tenant_id = $1 AND month = $2`,
);

const UPSERT_LEASE = sql(
  `INSERT INTO {quota_leases} (id, tenant_id, month, day, requests, tokens, cost_micro_usd, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
   ON CONFLICT (id) DO UPDATE SET requests = {quota_leases}.requests + $5, tokens = {quota_leases}.tokens + $6,
     cost_micro_usd = {quota_leases}.cost_micro_usd + $7, expires_at = $8`,
);


const GIVE_BACK_LEASED = sql(
  `UPDATE {quota_usage} SET leased_requests = CASE WHEN day = $3 THEN leased_requests - $4 ELSE leased_requests END,
     leased_tokens = leased_tokens - $5, leased_cost_micro_usd = leased_cost_micro_usd - $6
   WHERE tenant_id = $1 AND month = $2`,
);
const EXPIRED_LEASES = sql(`SELECT id FROM {quota_leases} WHERE expires_at < $1 LIMIT $2`);

const SETTLE_MONTH = sql(`UPDATE {quota_usage} SET tokens = tokens + $3, cost_micro_usd = cost_micro_usd + $4 WHERE tenant_id = $1 AND month = $2`);

/** A statement for a number of rows, made once per number. */
class StatementsBySize {
  private readonly made = new Map<number, Sql>();

  constructor(private readonly make: (count: number) => string) {}

  statement(count: number): Sql {
    let statement = this.made.get(count);
    if (statement === undefined) this.made.set(count, (statement = sql(this.make(count))));
    return statement;
  }
}

/** `$1, $2, …` for one row of `width` values, the row-th of a statement; with `types`, each cast to its type. */
const placeholders = (width: number, row = 0, types?: string[]) =>
  Array.from({ length: width }, (_, column) => `$${row * width + column + 1}${types ? `::${types[column]}` : ''}`).join(', ');

/** A multi-row INSERT into `table`. */
class RowInsert extends StatementsBySize {
  constructor(table: string, columns: string[]) {
    super((rows) => `INSERT INTO ${table} (${columns.join(', ')}) VALUES ${Array.from({ length: rows }, (_, row) => `(${placeholders(columns.length, row)})`).join(', ')}`);
  }
}

const RESERVATION_INSERT = new RowInsert('{reservations}', [
  'id', 'tenant_id', 'request_id', 'key_id', 'endpoint', 'model', 'stream', 'day', 'month', 'tokens', 'prompt_tokens', 'cost_micro_usd', 'expires_at', 'created_at',
]);
const LEDGER_INSERT = new RowInsert('{usage_ledger}', [
  'id', 'request_id', 'tenant_id', 'key_id', 'endpoint', 'model_requested', 'model_served', 'prompt_tokens', 'completion_tokens', 'cached_tokens',
  'reasoning_tokens', 'cost_micro_usd', 'attempts', 'outcome', 'stream', 'latency_ms', 'created_at',
]);
/** `(SELECT column1 AS a, … FROM (VALUES ($1::t, …), …))`: rows of typed values to join an UPDATE with. */
function valuesTable(rows: number, columns: Array<[name: string, type: string]>): string {
  const types = columns.map(([, type]) => type);
  const row = (index: number) => `(${placeholders(columns.length, index, types)})`;
  const names = columns.map(([name], column) => `column${column + 1} AS ${name}`).join(', ');
  return `(SELECT ${names} FROM (VALUES ${Array.from({ length: rows }, (_, index) => row(index)).join(', ')}) AS v) AS t`;
}

/** Takes calls' budget out of several leases at once, each only if it still holds it; returns the leases that did. */
const TAKE_FROM_LEASES = new StatementsBySize(
  (rows) => `UPDATE {quota_leases} SET requests = {quota_leases}.requests - t.requests, tokens = {quota_leases}.tokens - t.tokens,
     cost_micro_usd = {quota_leases}.cost_micro_usd - t.cost
   FROM ${valuesTable(rows, [['id', 'varchar'], ['requests', 'bigint'], ['tokens', 'bigint'], ['cost', 'bigint']])}
   WHERE {quota_leases}.id = t.id AND {quota_leases}.requests >= t.requests AND {quota_leases}.tokens >= t.tokens AND {quota_leases}.cost_micro_usd >= t.cost
   RETURNING {quota_leases}.id`,
);

/**
 * Moves calls from the leased columns to the spent ones, for several quota rows (each once) in one statement;
 * returns the rows it found. Per row: the lease's day, the calls, the requests they took from the lease, their
 * tokens and what of them came from the lease, the same for cost. Requests count against their lease's day only:
 * a row already on a later day leaves them out, and a row on an earlier day (its tenant has no request limit, so
 * no top-up moved it) starts the new day with them.
 */
const RESERVE_FROM_LEASED_ROWS = new StatementsBySize(
  (rows) => `UPDATE {quota_usage} SET
     day_requests = CASE WHEN {quota_usage}.day = t.day THEN {quota_usage}.day_requests + t.calls WHEN {quota_usage}.day < t.day THEN t.calls ELSE {quota_usage}.day_requests END,
     leased_requests = CASE WHEN {quota_usage}.day = t.day THEN {quota_usage}.leased_requests - t.leased_requests WHEN {quota_usage}.day < t.day THEN 0 ELSE {quota_usage}.leased_requests END,
     day = CASE WHEN {quota_usage}.day < t.day THEN t.day ELSE {quota_usage}.day END,
     tokens = {quota_usage}.tokens + t.tokens, leased_tokens = {quota_usage}.leased_tokens - t.leased_tokens,
     cost_micro_usd = {quota_usage}.cost_micro_usd + t.cost, leased_cost_micro_usd = {quota_usage}.leased_cost_micro_usd - t.leased_cost
   FROM ${valuesTable(rows, [['tenant_id', 'varchar'], ['month', 'varchar'], ['day', 'varchar'], ['calls', 'bigint'], ['leased_requests', 'bigint'], ['tokens', 'bigint'], ['leased_tokens', 'bigint'], ['cost', 'bigint'], ['leased_cost', 'bigint']])}
   WHERE {quota_usage}.tenant_id = t.tenant_id AND {quota_usage}.month = t.month
   RETURNING {quota_usage}.tenant_id, {quota_usage}.month`,
);

/**
 * PostgreSQL: locks the quota rows, $1/$2 a tenant and month each, before an UPDATE that joins them, in `inRowOrder`:
 * byte by byte (`COLLATE "C"`), as the statements that lock them one at a time are sent.
 */
const LOCK_MONTH_ROWS = new StatementsBySize(
  (rows) => `SELECT 1 FROM {quota_usage} WHERE (tenant_id, month) IN (${Array.from({ length: rows }, (_, i) => `($${2 * i + 1}, $${2 * i + 2})`).join(', ')})
   ORDER BY tenant_id COLLATE "C", month COLLATE "C" FOR UPDATE`,
);

/** $1: only leases that expired before it; $2…: their ids. */
const DELETE_LEASES = new StatementsBySize(
  (count) =>
    `DELETE FROM {quota_leases} WHERE expires_at < $1 AND id IN (${Array.from({ length: count }, (_, i) => `$${i + 2}`).join(', ')})
     RETURNING tenant_id, month, day, requests, tokens, cost_micro_usd`,
);
const DELETE_RESERVATIONS = new StatementsBySize((count) => `DELETE FROM {reservations} WHERE id IN (${placeholders(count)}) RETURNING id`);
/** The module SqliteWriter's thread runs for QuotaRepository: compiled, or the sources under the library's tests. */
const QUOTA_WRITES_WORKER = join(__dirname, `quota-writes.worker${extname(__filename)}`);

/**
 * Settlements per transaction of SqliteWriter's thread. Each is whole in one transaction; should a later one fail,
 * UsageLedger writes them all again one by one, and those already written are found taken (see takeReservations).
 */
const SETTLEMENTS_PER_TURN = 25;

/** Rows per multi-row INSERT (and ids per DELETE): 17 parameters a row stays far inside every driver's limit. */
const INSERT_BATCH = 500;

/**
 * Quota counters and reservations. A reservation is one conditional UPDATE of the tenant's row
 * for the month — it adds the request and its estimate only if every quota still holds — so
 * concurrent requests, on any number of replicas, can never overspend: the database decides.
 */
@Injectable()
export class QuotaRepository {
  private readonly prepared = new Map<Sql, Prepared>();
  /** On SQLite in a file, the thread that writes the hot path's batches (see SqliteWriter). */
  private readonly writer?: SqliteWriter;

  constructor(private readonly db: Database) {
    this.writer = db.offLoopWriter?.(QUOTA_WRITES_WORKER);
  }

  /**
   * Adds to a lease enough for the asking call (see leaseGrant), within what every quota has left once spent,
   * reserved and leased budget is counted; returns what was added. Throws TenantQuotaExceededError when a quota
   * cannot cover the call even so.
   */
  async topUpLease(topUp: LeaseTopUp): Promise<Budget> {
    if (!this.writer?.alive) return this.writeTopUp(topUp);
    const outcome = await this.writer.call<TopUpOutcome>('topUpLease', topUp);
    if ('dayOver' in outcome) throw new LeaseDayOverError(outcome.dayOver);
    if ('exceeded' in outcome) throw new TenantQuotaExceededError(outcome.exceeded.quota, outcome.exceeded.retryAfterMs);
    return outcome.added;
  }

  /** topUpLease on this thread's connection, its refusals as the answer rather than thrown (they cross threads so). */
  async topUpOutcome(topUp: LeaseTopUp): Promise<TopUpOutcome> {
    try {
      return { added: await this.writeTopUp(topUp) };
    } catch (error) {
      if (error instanceof LeaseDayOverError) return { dayOver: error.currentDay };
      if (error instanceof TenantQuotaExceededError) return { exceeded: { quota: error.quota, retryAfterMs: error.retryAfterMs ?? 0 } };
      throw error;
    }
  }

  private async writeTopUp(topUp: LeaseTopUp): Promise<Budget> {
    const { id, tenantId, day, month, limits, held, need, now, expiresAt } = topUp;
    return this.db.transaction(async (manager) => {
      // Leases are locked before quota rows, here as in every transaction that takes both, so that none deadlock.
      await this.run(manager, UPSERT_LEASE, [id, tenantId, month, day, 0, 0, 0, expiresAt]);
      await this.run(manager, INSERT_MONTH_ROW, [tenantId, month, day]);
      const [row] = await this.select(manager, this.db.dialect === 'postgres' ? LOCK_MONTH_ROW : READ_MONTH_ROW, [tenantId, month]);
      // A new day starts with no requests made and none leased: the old day's leases hold nothing of it.
      // A day's lease never moves the row back to its day once a later one has begun (near midnight, or on a slower clock).
      if (String(row.day) > day) throw new LeaseDayOverError(String(row.day));
      const sameDay = row.day === day;
      const dayRequests = sameDay ? Number(row.day_requests) : 0;
      const leasedRequests = sameDay ? Number(row.leased_requests) : 0;
      const grant = (quota: QuotaName, limit: number | null, committed: number, key: keyof Budget): number => {
        if (limit === null) return 0;
        const added = leaseGrant({ limit, committed, held: held[key], need: need[key] });
        if (added === undefined) throw exceeded(quota, now);
        return added;
      };
      const added: Budget = {
        requests: grant('requests_per_day', limits.requestsPerDay, dayRequests + leasedRequests, 'requests'),
        tokens: grant('tokens_per_month', limits.tokensPerMonth, Number(row.tokens) + Number(row.leased_tokens), 'tokens'),
        costMicroUsd: grant('cost_per_month', limitInMicroUsd(limits.costPerMonthUsd), Number(row.cost_micro_usd) + Number(row.leased_cost_micro_usd), 'costMicroUsd'),
      };
      await this.run(manager, ADD_TO_LEASED, [tenantId, month, day, dayRequests, leasedRequests + added.requests, added.tokens, added.costMicroUsd]);
      await this.run(manager, UPSERT_LEASE, [id, tenantId, month, day, added.requests, added.tokens, added.costMicroUsd, expiresAt]);
      return added;
    });
  }

  /**
   * Writes the reservations of calls admitted from leases, in one transaction: each lease gives up what its calls
   * took, and their budget moves from leased to reserved. Returns the leases that no longer held it (swept as
   * expired): their calls are not written, and must not go upstream.
   */
  async commitReservations(items: LeasedReservation[]): Promise<Set<string>> {
    if (this.writer?.alive) return new Set(await this.writer.call<string[]>('commitReservations', items.map(crossing)));
    return this.writeReservations(items);
  }

  /** commitReservations on this thread's connection. */
  async writeReservations(items: LeasedReservation[]): Promise<Set<string>> {
    if (this.db.dialect === 'postgres' && (await this.commitAtOnce(items))) return new Set();
    return this.db.transaction(async (manager) => {
      const lost = await this.takeFromLeases(manager, items);
      const kept = items.filter((item) => !lost.has(item.leaseId));
      await Promise.all(this.reservationInserts(manager, kept));
      await this.reserveFromLeased(manager, deltasByRow(kept));
      return lost;
    });
  }

  /**
   * PostgreSQL, whose connections pipeline: the batch's statements sent together, in one round trip, in the order
   * `commitReservations` runs them, on the expectation that every lease still holds what its calls took and every
   * quota row exists. Returns false, having rolled back, when that is not so (a lease swept, a tenant's first call
   * of the month, a row counted on both sides of midnight): the batch is then written statement by statement.
   */
  private async commitAtOnce(items: LeasedReservation[]): Promise<boolean> {
    const taken = sortedTakes(items);
    const deltas = deltasByRow(items);
    if (countsARowTwice(deltas)) return false;
    try {
      await this.db.transaction(async (manager) => {
        const statements: Array<Promise<unknown[]>> = [
          taken.length === 0 ? Promise.resolve([]) : this.select(manager, TAKE_FROM_LEASES.statement(taken.length), takeParameters(taken)),
          ...this.reservationInserts(manager, items),
          deltas.length < 2 ? Promise.resolve([]) : this.select(manager, LOCK_MONTH_ROWS.statement(deltas.length), lockParameters(deltas)),
          this.select(manager, RESERVE_FROM_LEASED_ROWS.statement(deltas.length), deltas.flatMap(reserveParameters)),
        ];
        const results = await Promise.all(statements);
        const [held, found] = [results[0], results[results.length - 1]];
        if (held.length < taken.length || found.length < deltas.length) throw new NotAtOnce();
      });
      return true;
    } catch (error) {
      if (error instanceof NotAtOnce) return false;
      throw error;
    }
  }

  /** The leases that no longer held what their calls took (calls that took nothing used no lease, which may not exist). */
  private async takeFromLeases(manager: EntityManager, items: LeasedReservation[]): Promise<Set<string>> {
    const taken = sortedTakes(items);
    if (taken.length === 0) return new Set();
    const held = new Set((await this.select(manager, TAKE_FROM_LEASES.statement(taken.length), takeParameters(taken))).map((row) => String(row.id)));
    return new Set(taken.map(([id]) => id).filter((id) => !held.has(id)));
  }

  /**
   * One statement for every quota row the calls count in. A row a batch counts twice (calls of both sides of
   * midnight) is updated a statement at a time, since a joined UPDATE would apply only one of them; a row that does
   * not exist yet (a tenant without quota limits takes no lease, so its first call of the month finds none) is made.
   */
  private async reserveFromLeased(manager: EntityManager, deltas: RowDelta[]): Promise<void> {
    if (deltas.length === 0) return;
    if (countsARowTwice(deltas)) {
      for (const delta of deltas) await this.reserveFromLeasedRow(manager, reserveParameters(delta));
      return;
    }
    if (this.db.dialect === 'postgres') await this.select(manager, LOCK_MONTH_ROWS.statement(deltas.length), lockParameters(deltas));
    const found = await this.select(manager, RESERVE_FROM_LEASED_ROWS.statement(deltas.length), deltas.flatMap(reserveParameters));
    const updated = new Set(found.map((row) => `${String(row.tenant_id)}/${String(row.month)}`));
    for (const delta of deltas) if (!updated.has(`${delta.tenantId}/${delta.month}`)) await this.reserveFromLeasedRow(manager, reserveParameters(delta));
  }

  private async reserveFromLeasedRow(manager: EntityManager, parameters: unknown[]): Promise<void> {
    const reserve = RESERVE_FROM_LEASED_ROWS.statement(1);
    if ((await this.select(manager, reserve, parameters)).length === 1) return;
    await this.run(manager, INSERT_MONTH_ROW, [parameters[0], parameters[1], parameters[2]]);
    await this.select(manager, reserve, parameters);
  }

  /**
   * Gives back what the leases still hold and deletes them; a lease already returned (or swept) is skipped, and with
   * `expiredBefore` so is one renewed since it was found expired.
   */
  async returnLeases(ids: string[], expiredBefore = Number.MAX_SAFE_INTEGER): Promise<void> {
    if (ids.length === 0) return;
    await this.db.transaction(async (manager) => {
      const sorted = [...ids].sort();
      const returned = await this.select(manager, DELETE_LEASES.statement(sorted.length), [expiredBefore, ...sorted]);
      for (const { tenantId, month, day, budget } of leasedByRow(returned)) {
        await this.run(manager, GIVE_BACK_LEASED, [tenantId, month, day, budget.requests, budget.tokens, budget.costMicroUsd]);
      }
    });
  }

  /** Keeps the leases of a live replica from being taken for those of a dead one. */
  async renewLeases(ids: string[], expiresAt: number): Promise<void> {
    await this.pushExpiry(QuotaLeaseEntity, ids, expiresAt);
  }

  /** Gives back the budget of leases no replica renewed in time (their replica died); returns how many. */
  async returnExpiredLeases(now: number, batch = 500): Promise<number> {
    const expired = await this.db.transaction((manager) => this.select(manager, EXPIRED_LEASES, [now, batch]));
    await this.returnLeases(expired.map((row) => String(row.id)), now);
    return expired.length;
  }

  /**
   * Replaces each estimate with what was really used and writes the ledger rows, in one transaction:
   * the counters and the ledger move together or not at all. A reservation already billed by the
   * sweep (it expired: its replica was taken for dead) is left as billed.
   */
  async settleAll(settlements: Settlement[]): Promise<void> {
    if (!this.writer?.alive) return this.writeSettlements(settlements);
    // The thread writes one batch at a time, and reservations wait behind settlements: in small transactions, none waits long.
    for (let from = 0; from < settlements.length; from += SETTLEMENTS_PER_TURN) {
      await this.writer.call('settleAll', settlements.slice(from, from + SETTLEMENTS_PER_TURN));
    }
  }

  /** settleAll on this thread's connection. */
  async writeSettlements(settlements: Settlement[]): Promise<void> {
    await this.db.transaction(async (manager) => {
      const taken = await this.takeReservations(manager, settlements.map(({ reservation }) => reservation.id));
      const owned = settlements.filter(({ reservation }) => taken.has(reservation.id));
      const deltas = new Map<string, Spend & { tenantId: string; month: string }>();
      for (const { reservation, row } of owned) {
        const key = `${reservation.tenantId}/${reservation.month}`;
        const delta = deltas.get(key) ?? { tenantId: reservation.tenantId, month: reservation.month, tokens: 0, costMicroUsd: 0 };
        delta.tokens += row.promptTokens + row.completionTokens - reservation.tokens;
        delta.costMicroUsd += row.costMicroUsd - reservation.costMicroUsd;
        deltas.set(key, delta);
      }
      const byRow = [...deltas.values()].sort(inRowOrder);
      // The quota rows last, all sent with the ledger's rows: every call admitted meanwhile writes its reservation
      // to one of them, and waits for their lock only from these UPDATEs to the COMMIT.
      await Promise.all([
        ...this.rowInserts(manager, LEDGER_INSERT, owned.map(({ row }) => ledgerValues(row))),
        ...byRow.map(({ tenantId, month, tokens, costMicroUsd }) => this.run(manager, SETTLE_MONTH, [tenantId, month, tokens, costMicroUsd])),
      ]);
    });
  }

  /** Takes a settlement whose ledger row cannot be written out of the way; its reservation's budget stays counted. */
  async deadLetter({ reservation, row }: Settlement, error: string, now: number): Promise<void> {
    await this.db.transaction(async (manager) => {
      await this.takeReservations(manager, [reservation.id]);
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
    await this.pushExpiry(ReservationEntity, ids, expiresAt);
  }

  private async pushExpiry(entity: typeof ReservationEntity | typeof QuotaLeaseEntity, ids: string[], expiresAt: number): Promise<void> {
    for (let from = 0; from < ids.length; from += RENEW_BATCH) {
      const batch = ids.slice(from, from + RENEW_BATCH);
      await this.db.transaction((manager) => manager.update(entity, { id: In(batch) }, { expiresAt }));
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
      // Deleting first makes this idempotent against a settlement or another replica's sweep.
      const taken = await this.takeReservations(manager, expired.map((reservation) => reservation.id));
      const rows = expired.filter((reservation) => taken.has(reservation.id)).map((reservation) => abandonedRow(reservation, now));
      await Promise.all(this.rowInserts(manager, LEDGER_INSERT, rows.map(ledgerValues)));
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

  /** Runs one statement; returns the rows it changed. */
  private async run(manager: EntityManager, statement: Sql, parameters: unknown[]): Promise<number> {
    return (await this.query(manager, statement, parameters)).affected ?? 0;
  }

  /** Runs one query; returns its rows (a DELETE's, RETURNING). */
  private async select(manager: EntityManager, statement: Sql, parameters: unknown[]): Promise<Array<Record<string, unknown>>> {
    return (await this.query(manager, statement, parameters)).records ?? [];
  }

  private query(manager: EntityManager, statement: Sql, parameters: unknown[]): Promise<{ affected?: number; records?: Array<Record<string, unknown>> }> {
    const { text, order } = this.prepare(statement);
    return manager.queryRunner!.query(text, order ? order.map((index) => parameters[index]) : parameters, true);
  }

  /** The statement as this database runs it, made once. */
  private prepare(statement: Sql): Prepared {
    let made = this.prepared.get(statement);
    if (made === undefined) this.prepared.set(statement, (made = prepared(statement.template, (name) => this.db.table(name), this.db.dialect)));
    return made;
  }

  /** The INSERTs of the calls' reservations (see rowInserts). */
  private reservationInserts(manager: EntityManager, items: LeasedReservation[]): Array<Promise<unknown[]>> {
    const values = items.map(({ request, reservation }) => [
      reservation.id, reservation.tenantId, request.requestId, request.keyId, request.endpoint, request.model, request.stream,
      reservation.day, reservation.month, reservation.tokens, request.promptTokens, reservation.costMicroUsd, request.expiresAt, request.now,
    ]);
    return this.rowInserts(manager, RESERVATION_INSERT, values);
  }

  /** Multi-row INSERTs of at most INSERT_BATCH rows each, all started at once (PostgreSQL pipelines them). */
  private rowInserts(manager: EntityManager, insert: RowInsert, rows: unknown[][]): Array<Promise<unknown[]>> {
    const inserts: Array<Promise<unknown[]>> = [];
    for (let from = 0; from < rows.length; from += INSERT_BATCH) {
      const batch = rows.slice(from, from + INSERT_BATCH);
      inserts.push(this.select(manager, insert.statement(batch.length), batch.flat()));
    }
    return inserts;
  }

  /** The ids of the reservations this caller removed, and so owns the settlement of. */
  private async takeReservations(manager: EntityManager, ids: string[]): Promise<Set<string>> {
    const taken = new Set<string>();
    for (let from = 0; from < ids.length; from += INSERT_BATCH) {
      const batch = ids.slice(from, from + INSERT_BATCH);
      for (const row of await this.select(manager, DELETE_RESERVATIONS.statement(batch.length), batch)) taken.add(String(row.id));
    }
    return taken;
  }


}

/**
 * The one order every transaction locks quota rows in, so that none deadlock: by tenant, then month, then day,
 * each compared code unit by code unit, which for tenant ids (TENANT_ID_PATTERN: ASCII) is PostgreSQL's `COLLATE "C"`.
 * (Not by a joined key: `acme/…` sorts after `acme-eu/…`, while the database puts `acme` first.)
 */
export function inRowOrder(a: { tenantId: string; month: string; day?: string }, b: { tenantId: string; month: string; day?: string }): number {
  return compare(a.tenantId, b.tenantId) || compare(a.month, b.month) || compare(a.day ?? '', b.day ?? '');
}

const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Which quota refused a call, and when it renews. */
function exceeded(quota: QuotaName, now: number): TenantQuotaExceededError {
  const periods = utcPeriods(now);
  const renewsAt = quota === 'requests_per_day' ? periods.dayEndsAt : periods.monthEndsAt;
  return new TenantQuotaExceededError(quota, renewsAt - now);
}

function limitInMicroUsd(usd: number | null): number | null {
  return usd === null ? null : usdToMicro(usd);
}

const noBudget = (): Budget => ({ requests: 0, tokens: 0, costMicroUsd: 0 });

const isNothing = (budget: Budget): boolean => budget.requests === 0 && budget.tokens === 0 && budget.costMicroUsd === 0;

function addTo(sum: Budget, budget: Budget): void {
  sum.requests += budget.requests;
  sum.tokens += budget.tokens;
  sum.costMicroUsd += budget.costMicroUsd;
}

/** What the calls took from each lease. */
function takenByLease(items: LeasedReservation[]): Map<string, Budget> {
  const taken = new Map<string, Budget>();
  for (const { leaseId, fromLease } of items) {
    const sum = taken.get(leaseId) ?? noBudget();
    addTo(sum, fromLease);
    taken.set(leaseId, sum);
  }
  return taken;
}

/** What the calls took from each lease that they took anything from, in the leases' sorted order. */
function sortedTakes(items: LeasedReservation[]): Array<[string, Budget]> {
  return [...takenByLease(items)].filter(([, budget]) => !isNothing(budget)).sort(([a], [b]) => (a < b ? -1 : 1));
}

const takeParameters = (taken: Array<[string, Budget]>) => taken.flatMap(([id, { requests, tokens, costMicroUsd }]) => [id, requests, tokens, costMicroUsd]);

const lockParameters = (deltas: RowDelta[]) => deltas.flatMap(({ tenantId, month }) => [tenantId, month]);

const reserveParameters = ({ tenantId, month, day, calls, fromLease, tokens, costMicroUsd }: RowDelta) =>
  [tenantId, month, day, calls, fromLease.requests, tokens, fromLease.tokens, costMicroUsd, fromLease.costMicroUsd];

/** Whether the calls count in one quota row on two days (both sides of midnight), which a joined UPDATE applies once. */
const countsARowTwice = (deltas: RowDelta[]): boolean => new Set(deltas.map(({ tenantId, month }) => `${tenantId}/${month}`)).size < deltas.length;

/** What returned leases held, by the quota row (and day) it goes back to, in the rows' sorted order. */
function leasedByRow(leases: Array<Record<string, unknown>>): Array<{ tenantId: string; month: string; day: string; budget: Budget }> {
  const byRow = new Map<string, { tenantId: string; month: string; day: string; budget: Budget }>();
  for (const lease of leases) {
    const [tenantId, month, day] = [String(lease.tenant_id), String(lease.month), String(lease.day)];
    const key = `${tenantId}/${month}/${day}`;
    const row = byRow.get(key) ?? { tenantId, month, day, budget: noBudget() };
    addTo(row.budget, { requests: Number(lease.requests), tokens: Number(lease.tokens), costMicroUsd: Number(lease.cost_micro_usd) });
    byRow.set(key, row);
  }
  return [...byRow.values()].sort(inRowOrder);
}

/** How the calls change each quota row, for the day they count in. */
interface RowDelta {
  tenantId: string;
  month: string;
  day: string;
  calls: number;
  tokens: number;
  costMicroUsd: number;
  fromLease: Budget;
}

function deltasByRow(items: LeasedReservation[]): RowDelta[] {
  const deltas = new Map<string, RowDelta>();
  for (const { reservation, fromLease } of items) {
    const { tenantId, month, day } = reservation;
    const key = `${tenantId}/${month}/${day}`;
    const delta = deltas.get(key) ?? { tenantId, month, day, calls: 0, tokens: 0, costMicroUsd: 0, fromLease: noBudget() };
    delta.calls += 1;
    delta.tokens += reservation.tokens;
    delta.costMicroUsd += reservation.costMicroUsd;
    addTo(delta.fromLease, fromLease);
    deltas.set(key, delta);
  }
  // Every transaction locks quota rows in the same order, so that two replicas' batches cannot deadlock.
  return [...deltas.values()].sort(inRowOrder);
}

/** What of a leased reservation its writing reads: all that goes to SqliteWriter's thread, where every field costs its copy. */
function crossing({ leaseId, fromLease, request, reservation }: LeasedReservation): LeasedReservation {
  const { requestId, keyId, endpoint, model, stream, promptTokens, expiresAt, now } = request;
  return { leaseId, fromLease, reservation, request: { requestId, keyId, endpoint, model, stream, promptTokens, expiresAt, now } };
}

function ledgerValues(row: UsageRecordEntity): unknown[] {
  const { id, requestId, tenantId, keyId, endpoint, modelRequested, modelServed, promptTokens, completionTokens, cachedTokens, reasoningTokens } = row;
  const { costMicroUsd, attempts, outcome, stream, latencyMs, createdAt } = row;
  return [id, requestId, tenantId, keyId, endpoint, modelRequested, modelServed, promptTokens, completionTokens, cachedTokens, reasoningTokens, costMicroUsd, attempts, outcome, stream, latencyMs, createdAt];
}

function abandonedRow(reservation: ReservationEntity, now: number): UsageRecordEntity {
  return {
    id: randomUUID(),
    requestId: reservation.requestId,
    tenantId: reservation.tenantId,
    keyId: reservation.keyId,
    endpoint: reservation.endpoint,
    modelRequested: reservation.model,
    modelServed: null,
    promptTokens: reservation.promptTokens,
    completionTokens: reservation.tokens - reservation.promptTokens,
    cachedTokens: 0,
    reasoningTokens: 0,
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
