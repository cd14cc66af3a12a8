import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { bigintAsNumber } from '../persistence/columns';

export type JobStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';

export const TERMINAL_STATUSES: readonly JobStatus[] = ['succeeded', 'failed', 'cancelled'];

export type WebhookStatus = 'pending' | 'delivered' | 'failed';

/** One asynchronous chat job: what was asked, where it stands, and its completion or error. */
@Entity('jobs')
@Index('jobs_pick', ['status', 'tenantOrdinal', 'createdAt'])
@Index('jobs_tenant_status', ['tenantId', 'status'])
@Index('jobs_expiry', ['expiresAt'])
export class JobEntity {
  @PrimaryColumn({ type: 'varchar', length: 40 })
  id: string;

  @Column({ name: 'tenant_id', type: 'varchar', length: 64 })
  tenantId: string;

  @Column({ name: 'key_id', type: 'varchar', length: 36, nullable: true })
  keyId: string | null;

  @Column({ type: 'varchar', length: 16 })
  status: JobStatus;

  @Column({ type: 'varchar', length: 256 })
  model: string;

  /** The chat request, as JSON, until the job is finished: then empty. */
  @Column({ type: 'text' })
  request: string;

  @Column({ name: 'context_policy', type: 'varchar', length: 16, nullable: true })
  contextPolicy: string | null;

  @Column({ name: 'webhook_url', type: 'varchar', length: 2048, nullable: true })
  webhookUrl: string | null;

  @Column({ name: 'webhook_status', type: 'varchar', length: 16, nullable: true })
  webhookStatus: WebhookStatus | null;

  /** Its place in its tenant's line of unfinished jobs when it was submitted: the queue runs the lowest first. */
  @Column({ name: 'tenant_ordinal', type: 'bigint', transformer: bigintAsNumber })
  tenantOrdinal: number;

  /** Times a worker has started it, deferrals included. */
  @Column({ type: 'integer' })
  runs: number;

  /** It may not run before this (a deferral for a rate limit). */
  @Column({ name: 'not_before', type: 'bigint', transformer: bigintAsNumber })
  notBefore: number;

  /** The run that holds the job; only it may finish the job. */
  @Column({ name: 'lease_token', type: 'varchar', length: 36, nullable: true })
  leaseToken: string | null;

  @Column({ name: 'lease_expires_at', type: 'bigint', nullable: true, transformer: bigintAsNumber })
  leaseExpiresAt: number | null;

  /** The chat completion, as JSON. */
  @Column({ type: 'text', nullable: true })
  result: string | null;

  /** The failure in OpenAI's error shape, as JSON. */
  @Column({ type: 'text', nullable: true })
  error: string | null;

  @Column({ name: 'created_at', type: 'bigint', transformer: bigintAsNumber })
  createdAt: number;

  @Column({ name: 'started_at', type: 'bigint', nullable: true, transformer: bigintAsNumber })
  startedAt: number | null;

  @Column({ name: 'finished_at', type: 'bigint', nullable: true, transformer: bigintAsNumber })
  finishedAt: number | null;

  /** A finished job is deleted after this. */
  @Column({ name: 'expires_at', type: 'bigint', nullable: true, transformer: bigintAsNumber })
  expiresAt: number | null;
}
