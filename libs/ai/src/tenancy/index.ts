/**
 * `@tollgate/ai/tenancy`: the services of the module's tenancy, which exist only when AiModule has a `database`
 * (and TypeORM with its driver is installed). Their types are exported by `@tollgate/ai` too.
 */
export { ApiKeyService } from './api-key.service';
export { Governance } from './governance';
export { QuotaService } from './quota.service';
export { TenantService } from './tenant.service';
export { UsageService } from './usage.service';
