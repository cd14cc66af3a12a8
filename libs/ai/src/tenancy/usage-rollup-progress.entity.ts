import { Column, Entity, PrimaryColumn } from 'typeorm';
import { bigintAsNumber } from '../persistence/columns';

/** How far one tenant's ledger is rolled up and pruned: both a UTC midnight, epoch ms, and only ever moved forward. */
@Entity('usage_rollup_progress')
export class UsageRollupProgressEntity {
  @PrimaryColumn({ name: 'tenant_id', type: 'varchar', length: 64 })
  tenantId: string;

  /** Every ledger row before it is in `usage_rollups`, and the reports read those days from there. */
  @Column({ name: 'rolled_until', type: 'bigint', transformer: bigintAsNumber })
  rolledUntil: number;

  /** Ledger rows before it may be deleted (set before they are); never after `rolledUntil`. */
  @Column({ name: 'pruned_until', type: 'bigint', transformer: bigintAsNumber })
  prunedUntil: number;
}
