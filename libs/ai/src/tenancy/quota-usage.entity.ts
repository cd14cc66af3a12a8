import { Column, Entity, PrimaryColumn } from 'typeorm';
import { bigintAsNumber } from '../persistence/columns';

/**
 * One tenant's spending in one UTC month, and its requests on the latest UTC day it made one.
 * A single row, so that a reservation is one conditional UPDATE: atomic in SQLite and PostgreSQL alike.
 */
@Entity('quota_usage')
export class QuotaUsageEntity {
  @PrimaryColumn({ name: 'tenant_id', type: 'varchar', length: 64 })
  tenantId: string;

  /** `2026-11` */
  @PrimaryColumn({ type: 'varchar', length: 7 })
  month: string;

  /** `2026-11-24`: the day `dayRequests` counts. */
  @Column({ type: 'varchar', length: 10 })
  day: string;

  @Column({ name: 'day_requests', type: 'bigint', transformer: bigintAsNumber })
  dayRequests: number;

  @Column({ type: 'bigint', transformer: bigintAsNumber })
  tokens: number;

  @Column({ name: 'cost_micro_usd', type: 'bigint', transformer: bigintAsNumber })
  costMicroUsd: number;

  /** Budget leased to replicas and not yet reserved by a call: `leasedRequests` for `day`, the others for the month. */
  @Column({ name: 'leased_requests', type: 'bigint', transformer: bigintAsNumber, default: 0 })
  leasedRequests: number;

  @Column({ name: 'leased_tokens', type: 'bigint', transformer: bigintAsNumber, default: 0 })
  leasedTokens: number;

  @Column({ name: 'leased_cost_micro_usd', type: 'bigint', transformer: bigintAsNumber, default: 0 })
  leasedCostMicroUsd: number;
}
