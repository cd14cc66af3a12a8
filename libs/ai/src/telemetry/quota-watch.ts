import { Inject, Injectable, Logger, OnModuleInit, Optional } from '@nestjs/common';
import { AlertOptions } from '../ai-module-options';
import { ALERT_OPTIONS } from '../ai-option-slices';
import { QuotaName } from '../errors/ai-errors';
import { InjectQuotaViews, QuotaView, QuotaViews, QuotaWindowView } from '../tenancy/quota-view';
import { AiMetrics } from './ai-metrics';
import { CallEvents } from './call-events';

/** The quotas of QuotaView, by the name errors, the metric and the alerts give them. */
const QUOTAS = { requests_per_day: 'requestsPerDay', tokens_per_month: 'tokensPerMonth', cost_per_month: 'costPerMonthUsd' } as const satisfies Record<QuotaName, keyof QuotaView>;

/** How much of each limited quota a tenant has used: 0 untouched, 1 spent. */
export type QuotaUse = Partial<Record<QuotaName, number>>;

/**
 * Keeps how much of its quotas each tenant has used, for the quota-remaining metric and the quota
 * alerts. Only tenants that made calls since the last refresh are read again (and those already
 * near a limit, so that a raised limit or a new month resolves their alert): the database is asked
 * about active tenants, not about every tenant there is.
 */
@Injectable()
export class QuotaWatch implements OnModuleInit {
  private readonly logger = new Logger(QuotaWatch.name);
  private readonly touched = new Set<string>();
  private readonly use = new Map<string, QuotaUse>();

  constructor(
    /** Absent without a database: there are no quotas to watch. */
    @Optional() @InjectQuotaViews() private readonly quotas: QuotaViews | undefined,
    private readonly metrics: AiMetrics,
    private readonly events: CallEvents,
    @Inject(ALERT_OPTIONS) private readonly alerts: AlertOptions,
  ) {}

  /** Only while alerts are evaluated: they are what empties `touched`. */
  onModuleInit(): void {
    if (this.alerts.rules.length === 0 || !this.quotas) return;
    this.events.onCallEnded((call) => this.touched.add(call.tenantId));
  }

  /** Tenants that have used at least `ratio` of some quota, as of the last refresh. */
  usedAtLeast(ratio: number): Array<{ tenantId: string; quota: QuotaName; used: number }> {
    return [...this.use].flatMap(([tenantId, use]) =>
      Object.entries(use)
        .filter(([, used]) => used >= ratio)
        .map(([quota, used]) => ({ tenantId, quota: quota as QuotaName, used })),
    );
  }

  async refresh(watchFrom: number): Promise<void> {
    const near = [...this.use].filter(([, use]) => Object.values(use).some((used) => used >= watchFrom)).map(([tenantId]) => tenantId);
    const tenants = new Set([...this.touched, ...near]);
    this.touched.clear();
    for (const tenantId of tenants) await this.refreshTenant(tenantId);
  }

  private async refreshTenant(tenantId: string): Promise<void> {
    let view: QuotaView;
    try {
      view = await this.quotas!.view(tenantId);
    } catch (error) {
      this.logger.warn(`could not read the quotas of tenant ${tenantId}: ${(error as Error).message}`);
      this.use.delete(tenantId);
      return;
    }
    const use: QuotaUse = {};
    for (const quota of Object.keys(QUOTAS) as QuotaName[]) {
      const used = usedRatio(view[QUOTAS[quota]]);
      if (used !== undefined) use[quota] = used;
      this.metrics.setQuotaRemaining(tenantId, quota, used === undefined ? undefined : 1 - used);
    }
    this.use.set(tenantId, use);
  }
}

/** undefined for no limit; a limit of 0 is spent. */
function usedRatio(window: QuotaWindowView): number | undefined {
  if (window.limit === null) return undefined;
  if (window.limit === 0) return 1;
  return Math.min(1, window.used / window.limit);
}
