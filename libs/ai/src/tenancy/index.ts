/**
 * `@tollgate/ai/tenancy`: the services of the module's tenancy, which exist only when AiModule has a `database`
 * (and TypeORM with its driver is installed), and their types.
 */
import { requireOptional } from '../common/optional-package';
import { DATABASE_FEATURE } from '../persistence/database';

// First: the services below need TypeORM to load, and without it an error should say what to install.
requireOptional('typeorm', DATABASE_FEATURE);

export { Database } from '../persistence/database';
export type { Dialect, TableName } from '../persistence/database';
export { ApiKeyService } from './api-key.service';
export { Governance } from './governance';
export { LedgerRetention } from './ledger-retention';
export type { RetentionPass } from './ledger-retention';
export { QuotaService } from './quota.service';
export { TenantService } from './tenant.service';
export { UsageService } from './usage.service';
export { UsageDetailPrunedError } from './usage-range';
export type { ApiKeyView, IssuedApiKey, KeyOwner } from './api-key.service';
export type { QuotaView, QuotaWindowView } from './quota.service';
export type { CreateTenantInput, TenantView, UpdateTenantInput } from './tenant.service';
export type { UsageGroup, UsageGrouping, UsageQuery } from './usage.service';
