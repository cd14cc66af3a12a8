import { LedgerProgress, UsageDetailPrunedError } from './usage-range';
import { KeyedSums, UsageRepository } from './usage.repository';
import { UsageService } from './usage.service';

const DAY_MS = 86_400_000;
const DAY0 = Date.UTC(2026, 0, 1);

const someSums = (key: string): KeyedSums => ({ key, requests: 1, promptTokens: 10, completionTokens: 5, cachedTokens: 0, reasoningTokens: 0, costMicroUsd: 100, failures: 0 });

/** A repository whose progress is read in turn from `progress`: a retention pass moving it between two reads. */
function aRepository(progress: LedgerProgress[]) {
  const reads = [...progress];
  return {
    progressOf: jest.fn(async () => (reads.length > 1 ? reads.shift()! : reads[0])),
    rowSums: jest.fn(async () => [someSums('2026-01-01')]),
    rollupSums: jest.fn(async () => [] as KeyedSums[]),
  };
}

describe(UsageService.name, () => {
  it('should read the progress again after the sums, and answer when no pass pruned meanwhile', async () => {
    const repository = aRepository([{ rolledUntil: 0, prunedUntil: 0 }]);

    const groups = await new UsageService(repository as unknown as UsageRepository).summarize('acme', { from: DAY0 + DAY_MS / 2, to: DAY0 + 2 * DAY_MS, groupBy: 'day' });

    expect(groups).toEqual([{ key: '2026-01-01', requests: 1, promptTokens: 10, completionTokens: 5, cachedTokens: 0, reasoningTokens: 0, costUsd: 0.0001, failures: 0 }]);
    expect(repository.progressOf).toHaveBeenCalledTimes(2);
  });

  it('should not answer with rows a pass deleted while it read them, but read again: here, an edge now inside a pruned day', async () => {
    // Read before the pass marked day 0 pruned, then after.
    const repository = aRepository([
      { rolledUntil: DAY0 + DAY_MS, prunedUntil: 0 },
      { rolledUntil: DAY0 + DAY_MS, prunedUntil: DAY0 + DAY_MS },
    ]);

    const report = new UsageService(repository as unknown as UsageRepository).summarize('acme', { from: DAY0 + DAY_MS / 2, to: DAY0 + 2 * DAY_MS, groupBy: 'day' });

    await expect(report).rejects.toThrow(UsageDetailPrunedError);
    expect(repository.rowSums).toHaveBeenCalledTimes(1);
  });
});
