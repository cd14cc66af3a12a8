/** The UTC calendar periods quotas are counted in. */
export interface UtcPeriods {
  /** `2026-11-24` */
  day: string;
  /** `2026-11` */
  month: string;
  /** Epoch ms of the next UTC midnight, when the day's requests renew. */
  dayEndsAt: number;
  /** Epoch ms of the first instant of next UTC month, when tokens and cost renew. */
  monthEndsAt: number;
}

/** The day last worked out, and when it began: every call of that day has the same periods. */
let last: { periods: UtcPeriods; dayStartsAt: number } | undefined;

export function utcPeriods(nowMs: number): UtcPeriods {
  if (last && nowMs >= last.dayStartsAt && nowMs < last.periods.dayEndsAt) return last.periods;
  const now = new Date(nowMs);
  const year = now.getUTCFullYear();
  const month = now.getUTCMonth();
  const date = now.getUTCDate();
  const periods = Object.freeze({
    day: now.toISOString().slice(0, 10),
    month: now.toISOString().slice(0, 7),
    dayEndsAt: Date.UTC(year, month, date + 1),
    monthEndsAt: Date.UTC(year, month + 1, 1),
  });
  last = { periods, dayStartsAt: Date.UTC(year, month, date) };
  return periods;
}
