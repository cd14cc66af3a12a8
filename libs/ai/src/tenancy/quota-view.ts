import { Inject } from '@nestjs/common';
import type { TenantLimits } from './tenant-limits';

export interface QuotaWindowView {
  limit: number | null;
  used: number;
  /** null when there is no limit. */
  remaining: number | null;
  resetsAt: string;
}

export interface QuotaView {
  tenantId: string;
  plan: string;
  limits: TenantLimits;
  requestsPerDay: QuotaWindowView;
  tokensPerMonth: QuotaWindowView;
  costPerMonthUsd: QuotaWindowView;
}

/** Where a tenant's quotas are read (QuotaService, which exists only with a database): absent without one. */
export interface QuotaViews {
  view(tenantId: string): Promise<QuotaView>;
}

export const QuotaViews = Symbol('QuotaViews');
export const InjectQuotaViews = () => Inject(QuotaViews);
