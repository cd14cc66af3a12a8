import { Injectable, Logger } from '@nestjs/common';
import { Listeners } from '../common/listeners';

/** What the usage ledger announces; metrics listen. */
@Injectable()
export class LedgerEvents {
  private readonly logger = new Logger(LedgerEvents.name);
  /** A settlement whose ledger row the database refused was kept in usage_dead_letters. */
  readonly deadLettered = new Listeners<{ tenantId: string }>(this.logger);
}
