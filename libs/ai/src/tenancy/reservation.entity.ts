import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { bigintAsNumber } from '../persistence/columns';
import type { Endpoint } from '../telemetry/call-events';

/**
 * Budget held for one request in flight, renewed while its call runs; settled to real usage, or, once
 * it expires (its replica died), billed as reserved with a ledger row of its own.
 */
@Entity('reservations')
export class ReservationEntity {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id: string;

  @Column({ name: 'tenant_id', type: 'varchar', length: 64 })
  tenantId: string;

  @Column({ name: 'request_id', type: 'varchar', length: 128 })
  requestId: string;

  /** The UTC day whose request count it holds, and the month whose tokens and cost. */
  @Column({ name: 'key_id', type: 'varchar', length: 36, nullable: true })
  keyId: string | null;

  @Column({ type: 'varchar', length: 32, default: 'chat.completions' })
  endpoint: Endpoint;

  @Column({ type: 'varchar', length: 256, default: '' })
  model: string;

  @Column({ type: 'boolean', default: false })
  stream: boolean;

  @Column({ type: 'varchar', length: 10 })
  day: string;

  @Column({ type: 'varchar', length: 7 })
  month: string;

  /** The estimate: prompt and completion allowance. */
  @Column({ type: 'bigint', transformer: bigintAsNumber })
  tokens: number;

  @Column({ name: 'prompt_tokens', type: 'bigint', transformer: bigintAsNumber, default: 0 })
  promptTokens: number;

  @Column({ name: 'cost_micro_usd', type: 'bigint', transformer: bigintAsNumber })
  costMicroUsd: number;

  @Index('reservations_expiry')
  @Column({ name: 'expires_at', type: 'bigint', transformer: bigintAsNumber })
  expiresAt: number;

  @Column({ name: 'created_at', type: 'bigint', transformer: bigintAsNumber })
  createdAt: number;
}
