import { DAY_MS, LedgerProgress, UsageDetailPrunedError, usageSources } from './usage-range';

const HOUR_MS = 3_600_000;
/** 2026-01-01T00:00:00Z: day n starts at day(n). */
const day = (n: number, hours = 0) => Date.UTC(2026, 0, 1) + n * DAY_MS + hours * HOUR_MS;

const NOTHING_ROLLED_UP: LedgerProgress = { rolledUntil: 0, prunedUntil: 0 };
/** Days 0 to 9 rolled up, the rows of days 0 to 4 deleted. */
const ROLLED_AND_PRUNED: LedgerProgress = { rolledUntil: day(10), prunedUntil: day(5) };

describe(usageSources.name, () => {
  it('should read everything from the rows of a tenant with nothing rolled up', () => {
    expect(usageSources(day(0, 6), day(3), NOTHING_ROLLED_UP)).toEqual({ rows: [{ from: day(0, 6), to: day(3) }] });
  });

  it('should read whole rolled-up days from the roll-ups alone', () => {
    expect(usageSources(day(2), day(8), ROLLED_AND_PRUNED)).toEqual({ rollups: { fromDay: '2026-01-03', toDay: '2026-01-09' }, rows: [] });
  });

  it('should read the parts of days at either edge from the rows, and the whole days between from the roll-ups', () => {
    expect(usageSources(day(6, 9), day(8, 17), ROLLED_AND_PRUNED)).toEqual({
      rollups: { fromDay: '2026-01-08', toDay: '2026-01-09' },
      rows: [
        { from: day(6, 9), to: day(7) },
        { from: day(8), to: day(8, 17) },
      ],
    });
  });

  it('should read the days after the last rolled-up one from the rows', () => {
    expect(usageSources(day(3), day(12, 5), ROLLED_AND_PRUNED)).toEqual({
      rollups: { fromDay: '2026-01-04', toDay: '2026-01-11' },
      rows: [{ from: day(10), to: day(12, 5) }],
    });
  });

  it('should read a period inside one day from the rows, rolled up or not', () => {
    expect(usageSources(day(7, 1), day(7, 2), ROLLED_AND_PRUNED)).toEqual({ rows: [{ from: day(7, 1), to: day(7, 2) }] });
  });

  it.each([
    ['from', day(4, 12), day(8)],
    ['to', day(1), day(4, 12)],
    ['from', day(5) - 1, day(6)],
  ] as const)("should refuse an edge ('%s') inside a day whose rows are deleted, saying from when they are kept", (edge, from, to) => {
    const read = () => usageSources(from, to, ROLLED_AND_PRUNED);

    expect(read).toThrow(UsageDetailPrunedError);
    expect(read).toThrow(expect.objectContaining({ edge, rowsKeptFrom: day(5) }));
    expect(read).toThrow(`The ledger holds single calls from 2026-01-06T00:00:00.000Z only; before it, usage is kept by whole UTC days. Put '${edge}' at a UTC midnight`);
  });

  it('should take an edge at a midnight before the deleted rows end, or at any time after', () => {
    expect(usageSources(day(1), day(5, 1), ROLLED_AND_PRUNED).rollups).toEqual({ fromDay: '2026-01-02', toDay: '2026-01-06' });
  });
});
