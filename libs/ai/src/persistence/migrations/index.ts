import type { TableName } from '../database';
import { initialSchema } from './1764000000000-initial-schema';
import { tenantLogContent } from './1764100000000-tenant-log-content';
import { jobs } from './1765000000000-jobs';
import { recoverableReservations } from './1767000000000-recoverable-reservations';
import { quotaLeases } from './1768000000000-quota-leases';
import { endpointUsage } from './1769000000000-endpoint-usage';
import { usageRollups } from './1770000000000-usage-rollups';

const MIGRATIONS = [initialSchema, tenantLogContent, jobs, recoverableReservations, quotaLeases, endpointUsage, usageRollups];

/** Every migration, in the order they run, for tables named by `table`. */
export const migrationsFor = (table: TableName) => MIGRATIONS.map((migration) => migration(table));
