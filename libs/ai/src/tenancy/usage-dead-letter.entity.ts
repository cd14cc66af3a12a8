import { Column, Entity, PrimaryColumn } from 'typeorm';
import { bigintAsNumber } from '../persistence/columns';

/**
 * A settlement whose ledger row the database refused: kept as JSON, its reservation's budget left
 * in the counters, so that one bad row never holds up the ledger of everyone else.
 */
@Entity('usage_dead_letters')
export class UsageDeadLetterEntity {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id: string;

  @Column({ name: 'tenant_id', type: 'varchar', length: 64 })
  tenantId: string;

  @Column({ type: 'text' })
  reservation: string;

  @Column({ type: 'text' })
  row: string;

  @Column({ type: 'text' })
  error: string;

  @Column({ name: 'created_at', type: 'bigint', transformer: bigintAsNumber })
  createdAt: number;
}
