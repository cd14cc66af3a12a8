import { Injectable } from '@nestjs/common';
import { Database, Dialect } from '../persistence/database';
import { UsageRecordEntity } from './usage-record.entity';

export type UsageGrouping = 'day' | 'model';

export interface UsageQuery {
  /** Epoch ms, inclusive. */
  from: number;
  /** Epoch ms, exclusive. */
  to: number;
  groupBy: UsageGrouping;
}

export interface UsageGroup {
  /** The UTC day (`2026-11-24`) or the model served (the requested one when none answered). */
  key: string;
  requests: number;
  promptTokens: number;
  completionTokens: number;
  /** The part of `promptTokens` read from the prompt cache, billed at the cached price. */
  cachedTokens: number;
  /** The part of `completionTokens` spent reasoning. */
  reasoningTokens: number;
  costUsd: number;
  /** Requests that did not end in success. */
  failures: number;
}

const DAY_OF: Record<Dialect, string> = {
  sqlite: "strftime('%Y-%m-%d', created_at / 1000, 'unixepoch')",
  postgres: "to_char(to_timestamp(created_at / 1000.0) AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
};

interface GroupRow {
  key: string;
  requests: string | number;
  promptTokens: string | number;
  completionTokens: string | number;
  cachedTokens: string | number;
  reasoningTokens: string | number;
  costMicroUsd: string | number;
  failures: string | number;
}

/** Reports from the usage ledger, summed by the database. */
@Injectable()
export class UsageService {
  constructor(private readonly db: Database) {}

  async summarize(tenantId: string, query: UsageQuery): Promise<UsageGroup[]> {
    const key = query.groupBy === 'day' ? DAY_OF[this.db.dialect] : 'COALESCE(model_served, model_requested)';
    const rows = await this.db.manager
      .createQueryBuilder(UsageRecordEntity, 'usage')
      .select(key, 'key')
      .addSelect('COUNT(*)', 'requests')
      .addSelect('SUM(prompt_tokens)', 'promptTokens')
      .addSelect('SUM(completion_tokens)', 'completionTokens')
      .addSelect('SUM(cached_tokens)', 'cachedTokens')
      .addSelect('SUM(reasoning_tokens)', 'reasoningTokens')
      .addSelect('SUM(cost_micro_usd)', 'costMicroUsd')
      .addSelect("SUM(CASE WHEN outcome = 'success' THEN 0 ELSE 1 END)", 'failures')
      .where('tenant_id = :tenantId AND created_at >= :from AND created_at < :to', { tenantId, from: query.from, to: query.to })
      .groupBy(key)
      .orderBy(key)
      .getRawMany<GroupRow>();
    // PostgreSQL returns sums of integers as strings.
    return rows.map((row) => ({
      key: row.key,
      requests: Number(row.requests),
      promptTokens: Number(row.promptTokens),
      completionTokens: Number(row.completionTokens),
      cachedTokens: Number(row.cachedTokens),
      reasoningTokens: Number(row.reasoningTokens),
      costUsd: Number(row.costMicroUsd) / 1_000_000,
      failures: Number(row.failures),
    }));
  }
}
