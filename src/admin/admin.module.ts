import { Module } from '@nestjs/common';
import { UpstreamTargetModule } from '../upstream-target/upstream-target.module';
import { AdminAuthGuard } from './admin-auth.guard';
import { AlertsController } from './alerts.controller';
import { ApiKeysController } from './api-keys.controller';
import { QuotaController } from './quota.controller';
import { TenantsController } from './tenants.controller';
import { UpstreamStatusService } from './upstream-status.service';
import { UpstreamController } from './upstream.controller';
import { UsageReportService } from './usage-report.service';
import { UsageController } from './usage.controller';

/** The operators' API under /admin (tenants, keys, quotas, usage, upstream, alerts), behind the admin token. */
@Module({
  imports: [UpstreamTargetModule],
  controllers: [TenantsController, ApiKeysController, QuotaController, UsageController, UpstreamController, AlertsController],
  providers: [AdminAuthGuard, UsageReportService, UpstreamStatusService],
})
export class AdminModule {}
