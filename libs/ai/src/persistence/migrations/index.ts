import { InitialSchema1764000000000 } from './1764000000000-initial-schema';
import { TenantLogContent1764100000000 } from './1764100000000-tenant-log-content';
import { Jobs1765000000000 } from './1765000000000-jobs';
import { RecoverableReservations1767000000000 } from './1767000000000-recoverable-reservations';
import { QuotaLeases1768000000000 } from './1768000000000-quota-leases';

/** Every migration, in the order they run. */
export const MIGRATIONS = [InitialSchema1764000000000, TenantLogContent1764100000000, Jobs1765000000000, RecoverableReservations1767000000000, QuotaLeases1768000000000];
