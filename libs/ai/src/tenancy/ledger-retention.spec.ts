import { Logger } from '@nestjs/common';
import { LEDGER_RETENTION_DEFAULTS } from '../ai-module-options';
import { track, useFakeTime } from '../../test/async';
import { FakeClock } from '../../test/fake-clock';
import { resolvedOptions } from '../../test/factories';
import { LedgerRetention } from './ledger-retention';
import { LedgerProgress } from './usage-range';
import { KeyedSums, RollupStep, UsageRepository } from './usage.repository';

const HOUR_MS = 3_600_000;

type UsedByRetention =
  | 'openReservationsSince'
  | 'allProgress'
  | 'tenantIds'
  | 'startProgress'
  | 'firstRowFrom'
  | 'rollUp'
  | 'progressOf'
  | 'markPruned'
  | 'deleteRows'
  | 'deleteRollups'
  | 'rowSums'
  | 'rollupSums'
  | 'sumDayAfresh';

/** Tenants without ledger rows; `hold` keeps the next roll-up step waiting until it is let go. */
class FakeUsageRepository implements Pick<UsageRepository, UsedByRetention> {
  passes = 0;
  readonly steps: Array<{ tenantId: string; step: RollupStep }> = [];
  failNextPass = false;
  private held?: { reached: () => void; released: Promise<void> };

  constructor(private readonly tenants: string[]) {}

  /** Resolves once the next roll-up step is waiting, with what lets it go on. */
  hold(): Promise<() => void> {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    return new Promise((reached) => (this.held = { reached: () => reached(release), released }));
  }

  async openReservationsSince(): Promise<Map<string, number>> {
    this.passes += 1;
    if (this.failNextPass) {
      this.failNextPass = false;
      throw new Error('relation "tollgate_reservations" does not exist');
    }
    return new Map();
  }

  async allProgress(): Promise<Map<string, LedgerProgress>> {
    return new Map();
  }

  async tenantIds(): Promise<string[]> {
    return this.tenants;
  }

  async startProgress(): Promise<void> {}

  async firstRowFrom(): Promise<number | undefined> {
    return undefined;
  }

  async rollUp(tenantId: string, step: RollupStep): Promise<boolean> {
    const held = this.held;
    this.held = undefined;
    if (held) {
      held.reached();
      await held.released;
    }
    this.steps.push({ tenantId, step });
    return true;
  }

  async progressOf(): Promise<LedgerProgress> {
    return { rolledUntil: 0, prunedUntil: 0 };
  }

  async markPruned(): Promise<void> {}

  async deleteRows(): Promise<number> {
    return 0;
  }

  async deleteRollups(): Promise<number> {
    return 0;
  }

  async rowSums(): Promise<KeyedSums[]> {
    return [];
  }

  async rollupSums(): Promise<KeyedSums[]> {
    return [];
  }

  async sumDayAfresh(): Promise<void> {}
}

describe(LedgerRetention.name, () => {
  let repository: FakeUsageRepository;
  let retention: LedgerRetention;

  beforeEach(() => {
    useFakeTime();
    jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    repository = new FakeUsageRepository(['acme', 'globex']);
    retention = new LedgerRetention(repository as unknown as UsageRepository, new FakeClock(Date.UTC(2026, 0, 10, 12)), LEDGER_RETENTION_DEFAULTS);
  });

  afterEach(async () => {
    await retention.beforeApplicationShutdown();
    jest.useRealTimers();
    jest.restoreAllMocks();
  });

  it('should run a minute after start, then once an interval', async () => {
    retention.onModuleInit();

    await jest.advanceTimersByTimeAsync(59_999);
    const beforeAMinute = repository.passes;
    await jest.advanceTimersByTimeAsync(1);
    const afterAMinute = repository.passes;
    await jest.advanceTimersByTimeAsync(HOUR_MS - 60_000);

    expect([beforeAMinute, afterAMinute, repository.passes]).toEqual([0, 1, 2]);
  });

  it('should roll up each tenant up to the day before the margin began', async () => {
    await retention.run();

    // 2026-01-10T12:00Z less an hour is still 2026-01-10: every day before it is closed.
    expect(repository.steps).toEqual([
      { tenantId: 'acme', step: { from: 0, to: Date.UTC(2026, 0, 10), day: undefined } },
      { tenantId: 'globex', step: { from: 0, to: Date.UTC(2026, 0, 10), day: undefined } },
    ]);
  });

  it('should join the pass already running rather than run a second', async () => {
    const first = retention.run();
    const second = retention.run();

    await Promise.all([first, second]);

    expect(second).toBe(first);
    expect(repository.passes).toBe(1);
  });

  it('should go on with the next pass after one fails', async () => {
    retention.onModuleInit();
    repository.failNextPass = true;

    await jest.advanceTimersByTimeAsync(HOUR_MS);

    expect(repository.passes).toBe(2);
    expect(repository.steps).toHaveLength(2);
  });

  it('should stop on shutdown between two transactions, waiting for the one running, and run no more', async () => {
    retention.onModuleInit();
    const held = repository.hold();
    await jest.advanceTimersByTimeAsync(60_000);
    const release = await held;

    const shutdown = track(retention.beforeApplicationShutdown());
    await jest.advanceTimersByTimeAsync(0);
    const waited = !shutdown.settled;
    release();
    await retention.beforeApplicationShutdown();
    await jest.advanceTimersByTimeAsync(10 * HOUR_MS);

    expect(waited).toBe(true);
    expect(repository.steps.map(({ tenantId }) => tenantId)).toEqual(['acme']);
    expect(repository.passes).toBe(1);
  });
});

describe(`${LedgerRetention.name}'s options`, () => {
  it('should keep the rows 35 days and the roll-ups forever unless told otherwise', () => {
    expect(resolvedOptions().ledgerRetention).toMatchObject({ retentionDays: 35, rollupRetentionDays: null });
    expect(resolvedOptions({ ledgerRetention: { retentionDays: 7, rollupRetentionDays: 7 } }).ledgerRetention).toMatchObject({ retentionDays: 7, rollupRetentionDays: 7 });
  });

  it.each([0, -1, 1.5])('should refuse a retention of %s days', (retentionDays) => {
    expect(() => resolvedOptions({ ledgerRetention: { retentionDays } })).toThrow(
      `ledgerRetention.retentionDays must be a whole number of days, at least 1, not ${retentionDays}`,
    );
  });

  it.each([0, 34, 40.5])('should refuse roll-ups kept %s days, less than the rows or not whole', (rollupRetentionDays) => {
    expect(() => resolvedOptions({ ledgerRetention: { rollupRetentionDays } })).toThrow(
      `ledgerRetention.rollupRetentionDays must be null (forever) or a whole number of days, at least retentionDays (35), not ${rollupRetentionDays}`,
    );
  });
});
