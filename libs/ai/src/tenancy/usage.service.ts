import { Injectable } from '@nestjs/common';
import { LedgerProgress, usageSources } from './usage-range';
import { KeyedSums, SUM_NAMES, UsageGrouping, UsageRepository } from './usage.repository';

export type { UsageGrouping } from './usage.repository';

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

/**
 * Reports from the usage ledger, summed by the database: the whole UTC days already rolled up from their daily
 * roll-ups, the rest from the ledger's rows (see LedgerRetention), with the same sums either way.
 */
@Injectable()
export class UsageService {
  constructor(private readonly usage: UsageRepository) {}

  /**
   * Sorted by key. Throws UsageDetailPrunedError when `from` or `to` falls inside a UTC day whose ledger rows are
   * deleted (only its whole-day roll-ups are left): such a day can be reported whole only.
   */
  async summarize(tenantId: string, query: UsageQuery): Promise<UsageGroup[]> {
    for (;;) {
      const progress = await this.usage.progressOf(tenantId);
      const groups = await this.sums(tenantId, query, progress);
      // A pass marks a day pruned before it deletes its rows: if it did meanwhile, rows read here may be gone, so
      // the report is read again as the ledger now stands.
      if ((await this.usage.progressOf(tenantId)).prunedUntil === progress.prunedUntil) return groups;
    }
  }

  private async sums(tenantId: string, { from, to, groupBy }: UsageQuery, progress: LedgerProgress): Promise<UsageGroup[]> {
    const sources = usageSources(from, to, progress);
    const parts = await Promise.all([
      ...sources.rows.map((period) => this.usage.rowSums(tenantId, period.from, period.to, groupBy)),
      ...(sources.rollups ? [this.usage.rollupSums(tenantId, sources.rollups, groupBy)] : []),
    ]);
    return sumByKey(parts.flat()).map(({ costMicroUsd, ...sums }) => ({ ...sums, costUsd: costMicroUsd / 1_000_000 }));
  }
}

/** One group per key, sorted by key: a model found both in rows and in roll-ups is added up. */
function sumByKey(parts: KeyedSums[]): KeyedSums[] {
  const groups = new Map<string, KeyedSums>();
  for (const part of parts) {
    const group = groups.get(part.key);
    if (group === undefined) groups.set(part.key, { ...part });
    else for (const name of SUM_NAMES) group[name] += part[name];
  }
  return [...groups.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}
