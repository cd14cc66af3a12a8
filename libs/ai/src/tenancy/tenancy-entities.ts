import { ApiKeyEntity } from './api-key.entity';
import { PlanEntity } from './plan.entity';
import { QuotaLeaseEntity } from './quota-lease.entity';
import { QuotaUsageEntity } from './quota-usage.entity';
import { ReservationEntity } from './reservation.entity';
import { TenantEntity } from './tenant.entity';
import { UsageDeadLetterEntity } from './usage-dead-letter.entity';
import { UsageRecordEntity } from './usage-record.entity';
import { UsageRollupProgressEntity } from './usage-rollup-progress.entity';
import { UsageRollupEntity } from './usage-rollup.entity';

/** The tables of tenants, keys, plans, quotas, reservations and the usage ledger with its daily roll-ups. */
export const TENANCY_ENTITIES = [
  TenantEntity,
  ApiKeyEntity,
  PlanEntity,
  QuotaUsageEntity,
  QuotaLeaseEntity,
  ReservationEntity,
  UsageRecordEntity,
  UsageDeadLetterEntity,
  UsageRollupEntity,
  UsageRollupProgressEntity,
];
