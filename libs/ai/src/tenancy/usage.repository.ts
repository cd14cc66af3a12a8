import { Injectable } from '@nestjs/common';
import { EntityManager, SelectQueryBuilder } from 'typeorm';
import { Database, Dialect } from '../persistence/database';
import type { Endpoint } from '../telemetry/call-events';
import { ReservationEntity } from './reservation.entity';
import { TenantEntity } from './tenant.entity';
import { UsageRecordEntity } from './usage-record.entity';
import { UsageRollupProgressEntity } from './usage-rollup-progress.entity';
import { UsageRollupEntity } from './usage-rollup.entity';
import { DAY_MS, LedgerProgress, utcDay, UtcDays } from './usage-range';

export type UsageGrouping = 'day' | 'model';

/** What a report sums, each a whole number (cost in micro-USD), so that sums of sums are exact. */
export interface UsageSums {
  requests: number;
  promptTokens: number;
  completionTokens: number;
  cachedTokens: number;
  reasoningTokens: number;
  costMicroUsd: number;
  failures: number;
}

export interface KeyedSums extends UsageSums {
  /** The UTC day or the model, as the grouping says. */
  key: string;
}

/** Each sum over the ledger's rows… */
const OF_ROWS: Record<keyof UsageSums, string> = {
  requests: 'COUNT(*)',
  promptTokens: 'SUM(prompt_tokens)',
  completionTokens: 'SUM(completion_tokens)',
  cachedTokens: 'SUM(cached_tokens)',
  reasoningTokens: 'SUM(reasoning_tokens)',
  costMicroUsd: 'SUM(cost_micro_usd)',
  failures: "SUM(CASE WHEN outcome = 'success' THEN 0 ELSE 1 END)",
};

/** …and over the roll-ups, which hold the same sums by day. */
const OF_ROLLUPS: Record<keyof UsageSums, string> = {
  requests: 'SUM(requests)',
  promptTokens: 'SUM(prompt_tokens)',
  completionTokens: 'SUM(completion_tokens)',
  cachedTokens: 'SUM(cached_tokens)',
  reasoningTokens: 'SUM(reasoning_tokens)',
  costMicroUsd: 'SUM(cost_micro_usd)',
  failures: 'SUM(failures)',
};

/** The model a report names: the one served, the one requested when none answered. */
const MODEL_OF_ROW = 'COALESCE(model_served, model_requested)';

const DAY_OF_ROW: Record<Dialect, string> = {
  sqlite: "strftime('%Y-%m-%d', created_at / 1000, 'unixepoch')",
  postgres: "to_char(to_timestamp(created_at / 1000.0) AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
};

const ROLLUP_KEY = ['tenant_id', 'day', 'model', 'key_id', 'endpoint'];
const ROLLUP_SUMS = ['requests', 'prompt_tokens', 'completion_tokens', 'cached_tokens', 'reasoning_tokens', 'cost_micro_usd', 'failures'];
/** Roll-up rows per INSERT: 12 parameters a row stays far inside every driver's limit. */
const ROLLUP_INSERT_BATCH = 500;

/** One step of a tenant's roll-up: its progress moves from `from` to `to`, and the UTC day `day`, if any, is summed. */
export interface RollupStep {
  from: number;
  to: number;
  /** The start of the one day in [from, to) that has ledger rows. */
  day?: number;
}

type SumsRow = Record<string, string | number | null>;

export const SUM_NAMES = Object.keys(OF_ROWS) as Array<keyof UsageSums>;

/** PostgreSQL returns sums of integers as strings, and a sum of no rows is NULL. */
function sumsOf(row: SumsRow): UsageSums {
  const sums = {} as UsageSums;
  for (const name of SUM_NAMES) sums[name] = Number(row[name] ?? 0);
  return sums;
}

function selectSums<T extends object>(query: SelectQueryBuilder<T>, sums: Record<keyof UsageSums, string>): SelectQueryBuilder<T> {
  for (const [name, expression] of Object.entries(sums)) query.addSelect(expression, name);
  return query;
}

/**
 * The usage ledger's sums and its daily roll-ups. Writes are each one transaction of one tenant's day or one batch
 * of rows, so that none holds locks (or, on SQLite, the one writer) for long.
 */
@Injectable()
export class UsageRepository {
  constructor(private readonly db: Database) {}

  /** A tenant's ledger rows in [from, to), summed by UTC day or model. */
  async rowSums(tenantId: string, from: number, to: number, groupBy: UsageGrouping): Promise<KeyedSums[]> {
    const key = groupBy === 'day' ? DAY_OF_ROW[this.db.dialect] : MODEL_OF_ROW;
    const query = this.db.manager.createQueryBuilder(UsageRecordEntity, 'usage').select(key, 'key');
    const rows = await selectSums(query, OF_ROWS)
      .where('tenant_id = :tenantId AND created_at >= :from AND created_at < :to', { tenantId, from, to })
      .groupBy(key)
      .getRawMany<SumsRow>();
    return rows.map((row) => ({ key: String(row.key), ...sumsOf(row) }));
  }

  /** A tenant's roll-ups of whole UTC days, summed by UTC day or model. */
  async rollupSums(tenantId: string, { fromDay, toDay }: UtcDays, groupBy: UsageGrouping): Promise<KeyedSums[]> {
    const key = groupBy === 'day' ? 'day' : 'model';
    const query = this.db.manager.createQueryBuilder(UsageRollupEntity, 'rollup').select(key, 'key');
    const rows = await selectSums(query, OF_ROLLUPS)
      .where('tenant_id = :tenantId AND day >= :fromDay AND day < :toDay', { tenantId, fromDay, toDay })
      .groupBy(key)
      .getRawMany<SumsRow>();
    return rows.map((row) => ({ key: String(row.key), ...sumsOf(row) }));
  }

  async progressOf(tenantId: string): Promise<LedgerProgress> {
    const progress = await this.db.manager.findOneBy(UsageRollupProgressEntity, { tenantId });
    return { rolledUntil: progress?.rolledUntil ?? 0, prunedUntil: progress?.prunedUntil ?? 0 };
  }

  /** Every tenant's progress that has one. */
  async allProgress(): Promise<Map<string, LedgerProgress>> {
    const rows = await this.db.manager.find(UsageRollupProgressEntity);
    return new Map(rows.map(({ tenantId, rolledUntil, prunedUntil }) => [tenantId, { rolledUntil, prunedUntil }]));
  }

  async tenantIds(): Promise<string[]> {
    const tenants = await this.db.manager.find(TenantEntity, { select: { id: true }, order: { id: 'ASC' } });
    return tenants.map((tenant) => tenant.id);
  }

  /** When each tenant's oldest open reservation was admitted: a ledger row of that day may still be written. */
  async openReservationsSince(): Promise<Map<string, number>> {
    const rows = await this.db.manager
      .createQueryBuilder(ReservationEntity, 'reservation')
      .select('tenant_id', 'tenantId')
      .addSelect('MIN(created_at)', 'since')
      .groupBy('tenant_id')
      .getRawMany<{ tenantId: string; since: string | number }>();
    return new Map(rows.map((row) => [row.tenantId, Number(row.since)]));
  }

  /** When the tenant's first ledger row at or after `from` was admitted; undefined if it has none. */
  async firstRowFrom(tenantId: string, from: number): Promise<number | undefined> {
    const row = await this.db.manager
      .createQueryBuilder(UsageRecordEntity, 'usage')
      .select('MIN(created_at)', 'first')
      .where('tenant_id = :tenantId AND created_at >= :from', { tenantId, from })
      .getRawOne<{ first: string | number | null }>();
    const first = row?.first ?? null;
    return first === null ? undefined : Number(first);
  }

  /** Gives the tenant a progress row, at nothing rolled up, unless it has one. */
  async startProgress(tenantId: string): Promise<void> {
    await this.db.transaction((manager) =>
      manager.createQueryBuilder().insert().into(UsageRollupProgressEntity).values({ tenantId, rolledUntil: 0, prunedUntil: 0 }).orIgnore().execute(),
    );
  }

  /**
   * Moves the tenant's progress from `step.from` to `step.to` and writes the roll-ups of `step.day`, summed afresh
   * from its rows, in one transaction. The move is a compare-and-set: a replica that finds the progress moved already
   * (PostgreSQL makes it wait for the one moving it) writes nothing and returns false, so no day is summed twice at
   * once; a day summed again all the same (its progress set back) replaces its roll-ups rather than adding to them.
   */
  async rollUp(tenantId: string, step: RollupStep): Promise<boolean> {
    return this.db.transaction(async (manager) => {
      const moved = await manager
        .createQueryBuilder()
        .update(UsageRollupProgressEntity)
        .set({ rolledUntil: step.to })
        .where('tenant_id = :tenantId AND rolled_until = :from', { tenantId, from: step.from })
        .execute();
      if (moved.affected !== 1) return false;
      if (step.day !== undefined) await this.writeRollups(manager, tenantId, step.day);
      return true;
    });
  }

  private async writeRollups(manager: EntityManager, tenantId: string, day: number): Promise<void> {
    const query = manager
      .createQueryBuilder(UsageRecordEntity, 'usage')
      .select(MODEL_OF_ROW, 'model')
      .addSelect("COALESCE(key_id, '')", 'keyId')
      .addSelect('endpoint', 'endpoint');
    const groups = await selectSums(query, OF_ROWS)
      .where('tenant_id = :tenantId AND created_at >= :from AND created_at < :to', { tenantId, from: day, to: day + DAY_MS })
      .groupBy(MODEL_OF_ROW)
      .addGroupBy("COALESCE(key_id, '')")
      .addGroupBy('endpoint')
      .getRawMany<SumsRow>();
    const rollups = groups.map((row) => ({
      tenantId,
      day: utcDay(day),
      model: String(row.model),
      keyId: String(row.keyId),
      endpoint: row.endpoint as Endpoint,
      ...sumsOf(row),
    }));
    for (let from = 0; from < rollups.length; from += ROLLUP_INSERT_BATCH) {
      await manager
        .createQueryBuilder()
        .insert()
        .into(UsageRollupEntity)
        .values(rollups.slice(from, from + ROLLUP_INSERT_BATCH))
        .orUpdate(ROLLUP_SUMS, ROLLUP_KEY)
        .execute();
    }
  }

  /** Sums a rolled-up day of the tenant afresh from its rows, replacing its roll-ups. */
  async sumDayAfresh(tenantId: string, day: number): Promise<void> {
    await this.db.transaction((manager) => this.writeRollups(manager, tenantId, day));
  }

  /** Records that the tenant's ledger rows before `before` may be deleted, before any is. */
  async markPruned(tenantId: string, before: number): Promise<void> {
    await this.db.transaction((manager) =>
      manager
        .createQueryBuilder()
        .update(UsageRollupProgressEntity)
        .set({ prunedUntil: before })
        .where('tenant_id = :tenantId AND pruned_until < :before', { tenantId, before })
        .execute(),
    );
  }

  /** Deletes at most `limit` of the tenant's ledger rows admitted before `before`; returns how many. */
  async deleteRows(tenantId: string, before: number, limit: number): Promise<number> {
    const rows = `SELECT id FROM ${this.db.table('usage_ledger')} WHERE tenant_id = :tenantId AND created_at < :before LIMIT :limit`;
    return this.deleteWhere(UsageRecordEntity, `id IN (${rows})`, { tenantId, before, limit });
  }

  /** Deletes at most `limit` of the tenant's roll-ups of the UTC days before `beforeDay`; returns how many. */
  async deleteRollups(tenantId: string, beforeDay: string, limit: number): Promise<number> {
    const key = ROLLUP_KEY.join(', ');
    const rows = `SELECT ${key} FROM ${this.db.table('usage_rollups')} WHERE tenant_id = :tenantId AND day < :beforeDay LIMIT :limit`;
    return this.deleteWhere(UsageRollupEntity, `(${key}) IN (${rows})`, { tenantId, beforeDay, limit });
  }

  private async deleteWhere(entity: typeof UsageRecordEntity | typeof UsageRollupEntity, where: string, parameters: Record<string, unknown>): Promise<number> {
    const result = await this.db.transaction((manager) => manager.createQueryBuilder().delete().from(entity).where(where, parameters).execute());
    return result.affected ?? 0;
  }
}
