import { Column, Entity, PrimaryColumn } from 'typeorm';
import { bigintAsNumber } from '../persistence/columns';
import type { Endpoint } from '../telemetry/call-events';

const sum = (name: string) => Column({ name, type: 'bigint', transformer: bigintAsNumber });

/**
 * The ledger's rows of one UTC day, summed by tenant, model (served, else requested: the usage report's model), key
 * and endpoint. Written once the day is closed (see LedgerRetention), recomputed whole from the ledger's rows.
 */
@Entity('usage_rollups')
export class UsageRollupEntity {
  @PrimaryColumn({ name: 'tenant_id', type: 'varchar', length: 64 })
  tenantId: string;

  /** `2026-11-24` */
  @PrimaryColumn({ type: 'varchar', length: 10 })
  day: string;

  @PrimaryColumn({ type: 'varchar', length: 256 })
  model: string;

  /** The tenant key the calls were made with; '' for calls that named none (a library caller's). */
  @PrimaryColumn({ name: 'key_id', type: 'varchar', length: 36, default: '' })
  keyId: string;

  @PrimaryColumn({ type: 'varchar', length: 32 })
  endpoint: Endpoint;

  @sum('requests')
  requests: number;

  @sum('prompt_tokens')
  promptTokens: number;

  @sum('completion_tokens')
  completionTokens: number;

  @sum('cached_tokens')
  cachedTokens: number;

  @sum('reasoning_tokens')
  reasoningTokens: number;

  @sum('cost_micro_usd')
  costMicroUsd: number;

  /** Requests that did not end in success. */
  @sum('failures')
  failures: number;
}
