import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { bigintAsNumber } from '../persistence/columns';

/**
 * Quota one replica holds for one tenant and admits calls from without asking the database: the part
 * of the tenant's budget not yet turned into reservations. It is counted in its month's `leased_*`
 * columns, so that no other replica can hand it out; what is left goes back when the replica returns
 * the lease, or, once it expires unrenewed (its replica died), when any replica's sweep does.
 */
@Entity('quota_leases')
export class QuotaLeaseEntity {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id: string;

  @Column({ name: 'tenant_id', type: 'varchar', length: 64 })
  tenantId: string;

  @Column({ type: 'varchar', length: 7 })
  month: string;

  /** The UTC day whose requests it holds. */
  @Column({ type: 'varchar', length: 10 })
  day: string;

  @Column({ type: 'bigint', transformer: bigintAsNumber })
  requests: number;

  @Column({ type: 'bigint', transformer: bigintAsNumber })
  tokens: number;

  @Column({ name: 'cost_micro_usd', type: 'bigint', transformer: bigintAsNumber })
  costMicroUsd: number;

  @Index('quota_leases_expiry')
  @Column({ name: 'expires_at', type: 'bigint', transformer: bigintAsNumber })
  expiresAt: number;
}
