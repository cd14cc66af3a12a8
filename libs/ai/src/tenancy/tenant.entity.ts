import { Column, Entity, PrimaryColumn } from 'typeorm';
import { bigintAsNumber } from '../persistence/columns';
import { LimitOverrides } from './tenant-limits';

export type TenantStatus = 'active' | 'disabled';

@Entity('tenants')
export class TenantEntity {
  @PrimaryColumn({ type: 'varchar', length: 64 })
  id: string;

  @Column({ type: 'varchar', length: 200 })
  name: string;

  @Column({ type: 'varchar', length: 64 })
  plan: string;

  @Column({ type: 'varchar', length: 16 })
  status: TenantStatus;

  /** Per-tenant changes to the plan: a key set to null removes that limit. */
  @Column({ name: 'limit_overrides', type: 'simple-json' })
  limitOverrides: LimitOverrides;

  /** Whether this tenant's prompts and completions may appear in the request log. */
  @Column({ name: 'log_content', type: 'boolean', default: false })
  logContent: boolean;

  @Column({ name: 'created_at', type: 'bigint', transformer: bigintAsNumber })
  createdAt: number;

  @Column({ name: 'updated_at', type: 'bigint', transformer: bigintAsNumber })
  updatedAt: number;
}
