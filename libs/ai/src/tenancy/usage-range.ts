import { utcPeriods } from './utc-periods';

export const DAY_MS = 86_400_000;

export const startOfUtcDay = (ms: number): number => Math.floor(ms / DAY_MS) * DAY_MS;

/** `2026-11-24`, the UTC day of an instant. */
export const utcDay = (ms: number): string => utcPeriods(ms).day;

/** How far one tenant's ledger is rolled up and pruned, each a UTC midnight (0: not yet). */
export interface LedgerProgress {
  /** Every ledger row before it is summed in the roll-ups. */
  rolledUntil: number;
  /** Ledger rows before it may be deleted; never after `rolledUntil`. */
  prunedUntil: number;
}

/** UTC days, `fromDay` included and `toDay` not, as `2026-11-24`. */
export interface UtcDays {
  fromDay: string;
  toDay: string;
}

/** Where a report over a period reads its sums from. */
export interface UsageSources {
  /** Whole rolled-up UTC days, read from the roll-ups. */
  rollups?: UtcDays;
  /** The rest, epoch ms with `from` included and `to` not, read from the ledger's rows. */
  rows: Array<{ from: number; to: number }>;
}

/**
 * A report's period edge falls inside a UTC day whose ledger rows are deleted: only that day's total is left, and
 * a part of it cannot be told apart.
 */
export class UsageDetailPrunedError extends Error {
  constructor(
    /** The edge of the period that falls inside such a day. */
    readonly edge: 'from' | 'to',
    /** The first instant the ledger still holds each call of. */
    readonly rowsKeptFrom: number,
  ) {
    const kept = new Date(rowsKeptFrom).toISOString();
    super(
      `The ledger holds single calls from ${kept} only; before it, usage is kept by whole UTC days. ` +
        `Put '${edge}' at a UTC midnight, or at ${kept} or later.`,
    );
    this.name = 'UsageDetailPrunedError';
  }
}

/**
 * The whole days of [from, to) that are rolled up come from the roll-ups, the rest from the ledger's rows: the sums
 * are the same either way, since a day's roll-up is the sum of its rows. Throws UsageDetailPrunedError for an edge
 * inside a day whose rows may be gone.
 */
export function usageSources(from: number, to: number, { rolledUntil, prunedUntil }: LedgerProgress): UsageSources {
  for (const [edge, at] of [['from', from], ['to', to]] as const) {
    if (at < prunedUntil && at !== startOfUtcDay(at)) throw new UsageDetailPrunedError(edge, prunedUntil);
  }
  const firstWholeDay = Math.ceil(from / DAY_MS) * DAY_MS;
  const rolledEnd = Math.min(startOfUtcDay(to), rolledUntil);
  if (firstWholeDay >= rolledEnd) return { rows: [{ from, to }] };
  const rows = [
    { from, to: firstWholeDay },
    { from: rolledEnd, to },
  ].filter((period) => period.from < period.to);
  return { rollups: { fromDay: utcDay(firstWholeDay), toDay: utcDay(rolledEnd) }, rows };
}
