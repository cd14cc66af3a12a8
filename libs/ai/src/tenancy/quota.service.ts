import { Injectable } from '@nestjs/common';
import { Clock, InjectClock } from '../common/clock';
import { QuotaRepository } from './quota.repository';
import { TenantService } from './tenant.service';
import { QuotaView, QuotaViews, QuotaWindowView } from './quota-view';
import { LimitOverrides, TenantLimits } from './tenant-limits';
import { utcPeriods } from './utc-periods';

export type { QuotaView, QuotaWindowView } from './quota-view';

/** A tenant's quotas as an operator sees them: limits, use in the current windows, what is left, when they renew. */
@Injectable()
export class QuotaService implements QuotaViews {
  constructor(
    private readonly tenants: TenantService,
    private readonly quota: QuotaRepository,
    @InjectClock() private readonly clock: Clock,
  ) {}

  async view(tenantId: string): Promise<QuotaView> {
    const tenant = await this.tenants.get(tenantId);
    const now = this.clock.now();
    const usage = await this.quota.usage(tenantId, now);
    const periods = utcPeriods(now);
    const { limits } = tenant;
    return {
      tenantId,
      plan: tenant.plan,
      limits,
      requestsPerDay: windowView(limits.requestsPerDay, usage.requestsToday, periods.dayEndsAt),
      tokensPerMonth: windowView(limits.tokensPerMonth, usage.tokensThisMonth, periods.monthEndsAt),
      costPerMonthUsd: windowView(limits.costPerMonthUsd, usage.costThisMonthMicroUsd / 1_000_000, periods.monthEndsAt),
    };
  }

  /** Sets the tenant's limits (absent: the plan's, null: none) and returns the new view. */
  async update(tenantId: string, overrides: LimitOverrides): Promise<QuotaView> {
    await this.tenants.setLimits(tenantId, overrides);
    return this.view(tenantId);
  }
}

function windowView(limit: number | null, used: number, resetsAt: number): QuotaWindowView {
  return { limit, used, remaining: limit === null ? null : Math.max(0, limit - used), resetsAt: new Date(resetsAt).toISOString() };
}
