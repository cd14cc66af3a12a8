import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { LedgerRetentionOptions } from '../ai-module-options';
import { LEDGER_RETENTION_OPTIONS } from '../ai-option-slices';
import { Clock, InjectClock } from '../common/clock';
import { DependencyUnavailableError } from '../errors/ai-errors';
import { DAY_MS, LedgerProgress, startOfUtcDay, utcDay } from './usage-range';
import { UsageRepository } from './usage.repository';

/** What one pass did. */
export interface RetentionPass {
  /** Tenant-days summed into the roll-ups. */
  daysRolledUp: number;
  /** Ledger rows deleted, their days rolled up and past retention. */
  rowsPruned: number;
  /** Roll-up rows deleted, past their own retention. */
  rollupsPruned: number;
}

/** A replica restarted more often than the interval still takes its turn. */
const FIRST_PASS_DELAY_MS = 60_000;

/**
 * Keeps the usage ledger from growing without end. Each pass, for every tenant, sums each closed UTC day's ledger
 * rows into the daily roll-ups, then deletes the rows of rolled-up days past `retentionDays`, and roll-ups past
 * `rollupRetentionDays`. A day is closed once `settleMarginMs` has passed since it ended (by then a call admitted before
 * midnight has its reservation written, whichever replica's clock said so) and no reservation admitted in it is still
 * open: every ledger row is written in the transaction that deletes its reservation (a settlement, or the sweep's
 * billing of an abandoned call), so once none is left for a day, no row of it can come. Every replica runs it; they take
 * turns on each tenant-day through the compare-and-set in UsageRepository.rollUp, and deletions are idempotent.
 */
@Injectable()
export class LedgerRetention implements OnModuleInit, BeforeApplicationShutdown {
  private readonly logger = new Logger(LedgerRetention.name);
  private firstPass?: NodeJS.Timeout;
  private timer?: NodeJS.Timeout;
  private running?: Promise<RetentionPass>;
  private stopping = false;

  constructor(
    private readonly usage: UsageRepository,
    @InjectClock() private readonly clock: Clock,
    @Inject(LEDGER_RETENTION_OPTIONS) private readonly options: LedgerRetentionOptions,
  ) {}

  onModuleInit(): void {
    const pass = () => void this.runScheduled();
    this.firstPass = setTimeout(pass, Math.min(FIRST_PASS_DELAY_MS, this.options.intervalMs)).unref();
    this.timer = setInterval(pass, this.options.intervalMs).unref();
  }

  /** Before AiLifecycle closes the database: a pass stops between two transactions, and is waited for. */
  async beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.firstPass);
    clearInterval(this.timer);
    await this.running?.catch(() => undefined);
  }

  /** Runs one pass now; one already running in this replica is joined rather than run twice. */
  run(): Promise<RetentionPass> {
    this.running ??= this.pass().finally(() => (this.running = undefined));
    return this.running;
  }

  private async runScheduled(): Promise<void> {
    try {
      const { daysRolledUp, rowsPruned, rollupsPruned } = await this.run();
      if (daysRolledUp + rowsPruned + rollupsPruned === 0) return;
      this.logger.log(`ledger retention: ${daysRolledUp} tenant-days rolled up, ${rowsPruned} ledger rows and ${rollupsPruned} roll-ups deleted`);
    } catch (error) {
      // An outage is logged once, by the database's status; the next pass picks up where this one stopped.
      if (!(error instanceof DependencyUnavailableError)) this.logger.error(`ledger retention failed: ${(error as Error).message}`);
    }
  }

  private async pass(): Promise<RetentionPass> {
    const { retentionDays, rollupRetentionDays, settleMarginMs } = this.options;
    const now = this.clock.now();
    const today = startOfUtcDay(now);
    // Read before any ledger row, for a day found without open reservations here gets no row after (see the class).
    const openSince = await this.usage.openReservationsSince();
    const progress = await this.usage.allProgress();
    const done: RetentionPass = { daysRolledUp: 0, rowsPruned: 0, rollupsPruned: 0 };
    for (const tenantId of await this.usage.tenantIds()) {
      if (this.stopping) break;
      const open = openSince.get(tenantId);
      const closedBefore = Math.min(startOfUtcDay(now - settleMarginMs), open === undefined ? Infinity : startOfUtcDay(open));
      const known = progress.get(tenantId);
      const rolledUntil = await this.rollUp(tenantId, known, closedBefore, done);
      await this.pruneRows(tenantId, known?.prunedUntil ?? 0, Math.min(rolledUntil, today - retentionDays * DAY_MS), done);
      if (rollupRetentionDays !== null) {
        const beforeDay = utcDay(today - rollupRetentionDays * DAY_MS);
        done.rollupsPruned += await this.inBatches((limit) => this.usage.deleteRollups(tenantId, beforeDay, limit));
      }
    }
    return done;
  }

  /** Rolls up the tenant's days before `closedBefore`, one transaction a day, skipping days without rows; returns how far it got. */
  private async rollUp(tenantId: string, known: LedgerProgress | undefined, closedBefore: number, done: RetentionPass): Promise<number> {
    let from = known?.rolledUntil ?? 0;
    if (from >= closedBefore) return from;
    if (known === undefined) await this.usage.startProgress(tenantId);
    while (from < closedBefore && !this.stopping) {
      const first = await this.usage.firstRowFrom(tenantId, from);
      const day = first !== undefined && first < closedBefore ? startOfUtcDay(first) : undefined;
      const to = day === undefined ? closedBefore : day + DAY_MS;
      if (await this.usage.rollUp(tenantId, { from, to, day })) {
        from = to;
        if (day !== undefined) done.daysRolledUp += 1;
        continue;
      }
      // Another replica moved it on: carry on from there.
      const moved = (await this.usage.progressOf(tenantId)).rolledUntil;
      if (moved <= from) break;
      from = moved;
    }
    return from;
  }

  /** Deletes the tenant's ledger rows before `before` (days rolled up and past retention), having said so first. */
  private async pruneRows(tenantId: string, prunedUntil: number, before: number, done: RetentionPass): Promise<void> {
    if (before > prunedUntil) {
      done.daysRolledUp += await this.sumLateRows(tenantId, prunedUntil, before);
      await this.usage.markPruned(tenantId, before);
    }
    // An earlier pass may have stopped half-way: its rows go too.
    const until = Math.max(before, prunedUntil);
    if (until > 0) done.rowsPruned += await this.inBatches((limit) => this.usage.deleteRows(tenantId, until, limit));
  }

  /**
   * Before a day's rows go, its roll-ups must hold them all. A row can come after its day was rolled up only if a
   * replica's clock is off by more than the margin (or a write stalled that long): such a day is summed afresh, and
   * said so, rather than losing the row with the pruning. Returns how many days were.
   */
  private async sumLateRows(tenantId: string, from: number, before: number): Promise<number> {
    const rows = await this.usage.rowSums(tenantId, from, before, 'day');
    const rolled = new Map((await this.usage.rollupSums(tenantId, { fromDay: utcDay(from), toDay: utcDay(before) }, 'day')).map((sums) => [sums.key, sums]));
    const late = rows.filter((day) => {
      const rollup = rolled.get(day.key);
      return rollup === undefined || rollup.requests !== day.requests || rollup.costMicroUsd !== day.costMicroUsd;
    });
    for (const day of late) {
      this.logger.warn(`ledger retention: rows of tenant ${tenantId} on ${day.key} came after the day was rolled up (a clock off by more than ${this.options.settleMarginMs} ms?): summed afresh`);
      await this.usage.sumDayAfresh(tenantId, Date.parse(day.key));
    }
    return late.length;
  }

  /** Repeats a bounded deletion until it finds less than a batch (or the module stops); returns how many it deleted. */
  private async inBatches(deleteBatch: (limit: number) => Promise<number>): Promise<number> {
    const limit = this.options.pruneBatchSize;
    let deleted = 0;
    while (!this.stopping) {
      const batch = await deleteBatch(limit);
      deleted += batch;
      if (batch < limit) break;
    }
    return deleted;
  }
}
