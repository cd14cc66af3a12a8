import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { bigintAsNumber } from '../persistence/columns';

/** Budget held for one request in flight; settled to real usage, or released when it expires. */
@Entity('reservations')
export class ReservationEntity {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id: string;

  @Column({ name: 'tenant_id', type: 'varchar', length: 64 })
  tenantId: string;

  @Column({ name: 'request_id', type: 'varchar', length: 128 })
  requestId: string;

  /** The UTC day whose request count it holds, and the month whose tokens and cost. */
  @Column({ type: 'varchar', length: 10 })
  day: string;

  @Column({ type: 'varchar', length: 7 })
  month: string;

  @Column({ type: 'bigint', transformer: bigintAsNumber })
  tokens: number;

  @Column({ name: 'cost_micro_usd', type: 'bigint', transformer: bigintAsNumber })
  costMicroUsd: number;

  @Index('reservations_expiry')
  @Column({ name: 'expires_at', type: 'bigint', transformer: bigintAsNumber })
  expiresAt: number;

  @Column({ name: 'created_at', type: 'bigint', transformer: bigintAsNumber })
  createdAt: number;
}
