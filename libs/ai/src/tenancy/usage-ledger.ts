import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { ResolvedAiOptions } from '../ai-module-options';
import { RESOLVED_AI_OPTIONS } from '../ai.module-definition';
import { Database } from '../persistence/database';
import { UsageRecordEntity } from './usage-record.entity';

export type UsageRecord = Omit<UsageRecordEntity, 'id'>;

/**
 * The usage ledger's writer: rows are buffered and written in batches, off the request's path,
 * and the buffer is written out on shutdown so that no row is lost.
 */
@Injectable()
export class UsageLedger implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(UsageLedger.name);
  private buffer: UsageRecordEntity[] = [];
  private timer?: NodeJS.Timeout;
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly db: Database,
    @Inject(RESOLVED_AI_OPTIONS) private readonly options: ResolvedAiOptions,
  ) {}

  onModuleInit(): void {
    this.timer = setInterval(() => void this.flush(), this.options.tenancy.ledgerFlushIntervalMs);
    this.timer.unref();
  }

  record(row: UsageRecord): void {
    this.buffer.push({ id: randomUUID(), ...row });
    if (this.buffer.length >= this.options.tenancy.ledgerBatchSize) void this.flush();
  }

  /** Writes every buffered row; resolves once they are in the database. */
  flush(): Promise<void> {
    const rows = this.buffer;
    this.buffer = [];
    this.writing = this.writing.then(() => (rows.length > 0 ? this.write(rows) : undefined));
    return this.writing;
  }

  /** The last batch is written by AiLifecycle's ordered shutdown (Governance.drain), not here. */
  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  private async write(rows: UsageRecordEntity[]): Promise<void> {
    try {
      await this.db.transaction((manager) => manager.insert(UsageRecordEntity, rows));
    } catch (error) {
      // Keep the rows for the next flush rather than lose them to a passing database failure.
      this.buffer.unshift(...rows);
      this.logger.error(`could not write ${rows.length} usage ledger rows: ${(error as Error).message}`);
    }
  }
}
