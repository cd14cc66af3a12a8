import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { TenancyOptions } from '../ai-module-options';
import { TENANCY_OPTIONS } from '../ai-option-slices';
import { Clock, InjectClock } from '../common/clock';
import { DependencyUnavailableError } from '../errors/ai-errors';
import { LedgerEvents } from '../telemetry/ledger-events';
import { QuotaRepository, Reservation, Settlement } from './quota.repository';
import { UsageRecordEntity } from './usage-record.entity';

export type UsageRecord = Omit<UsageRecordEntity, 'id'>;

/**
 * The writer of settlements: each call's reservation is replaced by its real usage and its ledger
 * row written in the same transaction, in batches, off the request's path. A batch the database
 * refuses is retried row by row, and a row it still refuses is dead-lettered, so that one bad row
 * never holds up the others. What is not written yet is held by its reservation: were the process
 * to die, another replica bills it as reserved (QuotaRepository.billExpired).
 */
@Injectable()
export class UsageLedger implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(UsageLedger.name);
  private buffer: Settlement[] = [];
  private timer?: NodeJS.Timeout;
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly quota: QuotaRepository,
    private readonly events: LedgerEvents,
    @InjectClock() private readonly clock: Clock,
    @Inject(TENANCY_OPTIONS) private readonly tenancy: TenancyOptions,
  ) {}

  onModuleInit(): void {
    this.timer = setInterval(() => void this.flush(), this.tenancy.ledgerFlushIntervalMs);
    this.timer.unref();
  }

  record(reservation: Reservation, row: UsageRecord): void {
    this.buffer.push({ reservation, row: { id: randomUUID(), ...row } });
    if (this.buffer.length >= this.tenancy.ledgerBatchSize) void this.flush();
  }

  /** Writes every buffered settlement; resolves once they are in the database (or kept for the next flush). */
  flush(): Promise<void> {
    const settlements = this.buffer;
    this.buffer = [];
    this.writing = this.writing.then(() => (settlements.length > 0 ? this.write(settlements) : undefined));
    return this.writing;
  }

  /** The last batch is written by AiLifecycle's ordered shutdown (Governance.drain), not here. */
  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  private async write(settlements: Settlement[]): Promise<void> {
    try {
      await this.quota.settleAll(settlements);
    } catch (error) {
      // An outage is logged once, by the database's status; the settlements wait for it to end.
      if (error instanceof DependencyUnavailableError) {
        this.buffer.unshift(...settlements);
        return;
      }
      this.logger.warn(`could not write ${settlements.length} settlements at once (${messageOf(error)}): writing them one by one`);
      await this.writeOneByOne(settlements);
    }
  }

  private async writeOneByOne(settlements: Settlement[]): Promise<void> {
    for (const [index, settlement] of settlements.entries()) {
      try {
        await this.quota.settleAll([settlement]);
      } catch (error) {
        if (error instanceof DependencyUnavailableError || !(await this.deadLetter(settlement, error))) {
          // The database itself is failing: keep this one and the rest for the next flush.
          this.buffer.unshift(...settlements.slice(index));
          return;
        }
      }
    }
  }

  private async deadLetter(settlement: Settlement, refusal: unknown): Promise<boolean> {
    try {
      await this.quota.deadLetter(settlement, messageOf(refusal), this.clock.now());
    } catch (error) {
      if (!(error instanceof DependencyUnavailableError)) this.logger.error(`could not write settlements (${messageOf(error)}): kept for the next flush`);
      return false;
    }
    const { row } = settlement;
    this.events.deadLettered.emit({ tenantId: row.tenantId });
    this.logger.error(
      `the database refused the ledger row of request ${JSON.stringify(row.requestId)} of tenant ${row.tenantId} ` +
        `(${messageOf(refusal)}): dead-lettered in usage_dead_letters, its reservation left counted`,
    );
    return true;
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
