import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { bigintAsNumber } from '../persistence/columns';
import type { Endpoint } from '../telemetry/call-events';

/** One row of the usage ledger: every admitted request, whatever its outcome. */
@Entity('usage_ledger')
@Index('usage_ledger_tenant_time', ['tenantId', 'createdAt'])
export class UsageRecordEntity {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id: string;

  @Column({ name: 'request_id', type: 'varchar', length: 128 })
  requestId: string;

  @Column({ name: 'tenant_id', type: 'varchar', length: 64 })
  tenantId: string;

  @Column({ name: 'key_id', type: 'varchar', length: 36, nullable: true })
  keyId: string | null;

  @Column({ type: 'varchar', length: 32, default: 'chat.completions' })
  endpoint: Endpoint;

  @Column({ name: 'model_requested', type: 'varchar', length: 256 })
  modelRequested: string;

  @Column({ name: 'model_served', type: 'varchar', length: 256, nullable: true })
  modelServed: string | null;

  @Column({ name: 'prompt_tokens', type: 'integer' })
  promptTokens: number;

  @Column({ name: 'completion_tokens', type: 'integer' })
  completionTokens: number;

  /** The part of the prompt's tokens read from the prompt cache, billed at the cached price. */
  @Column({ name: 'cached_tokens', type: 'integer', default: 0 })
  cachedTokens: number;

  /** The part of the completion's tokens spent reasoning. */
  @Column({ name: 'reasoning_tokens', type: 'integer', default: 0 })
  reasoningTokens: number;

  @Column({ name: 'cost_micro_usd', type: 'bigint', transformer: bigintAsNumber })
  costMicroUsd: number;

  @Column({ type: 'integer' })
  attempts: number;

  /** `success`, or the error code that ended the request. */
  @Column({ type: 'varchar', length: 64 })
  outcome: string;

  @Column({ type: 'boolean' })
  stream: boolean;

  @Column({ name: 'latency_ms', type: 'integer' })
  latencyMs: number;

  @Column({ name: 'created_at', type: 'bigint', transformer: bigintAsNumber })
  createdAt: number;
}
