import { resolvedOptions } from '../../test/factories';
import { QuotaService, QuotaView } from '../tenancy/quota.service';
import { UNLIMITED } from '../tenancy/tenant-limits';
import { CallEvents, CallRecord } from './call-events';
import { AlertRule, DEFAULT_ALERT_RULES } from './alert-rules';
import { QuotaWatch } from './quota-watch';
import { listeningMetrics } from '../../test/metrics';

class FakeQuotas {
  readonly asked: string[] = [];
  used: Record<string, number> = {};

  async view(tenantId: string): Promise<QuotaView> {
    this.asked.push(tenantId);
    const window = (limit: number | null, used: number) => ({ limit, used, remaining: limit === null ? null : limit - used, resetsAt: '' });
    return {
      tenantId,
      plan: 'default',
      limits: UNLIMITED,
      requestsPerDay: window(null, 3),
      tokensPerMonth: window(1000, this.used[tenantId] ?? 0),
      costPerMonthUsd: window(null, 0),
    };
  }
}

function setUp(maxTenantLabels = 50, alerts: { rules: AlertRule[] } = { rules: [...DEFAULT_ALERT_RULES] }) {
  const quotas = new FakeQuotas();
  const events = new CallEvents();
  const options = resolvedOptions({ telemetry: { maxTenantLabels }, alerts });
  const metrics = listeningMetrics(options.telemetry, { calls: events });
  const watch = new QuotaWatch(quotas as unknown as QuotaService, metrics, events, options.alerts);
  watch.onModuleInit();
  const call = (tenantId: string) => events.callEnded({ tenantId } as CallRecord);
  const remaining = async () => (await metrics.quotaRemaining.get()).values.map(({ labels, value }) => ({ ...labels, value }));
  return { quotas, watch, call, remaining };
}

describe(QuotaWatch.name, () => {
  it('should read the quotas of the tenants that made calls since the last refresh, and only theirs', async () => {
    const { quotas, watch, call } = setUp();
    call('a');
    call('a');
    call('b');
    await watch.refresh(0.8);
    await watch.refresh(0.8);
    expect(quotas.asked).toEqual(['a', 'b']);
  });

  it('should not gather tenants while no alert rule is evaluated (nothing would let go of them)', async () => {
    const { quotas, watch, call } = setUp(50, { rules: [] });
    call('a');
    await watch.refresh(0.8);
    expect(quotas.asked).toEqual([]);
  });

  it('should keep watching a tenant near a limit without calls, so that a raised limit resolves its alert', async () => {
    const { quotas, watch, call } = setUp();
    quotas.used = { near: 900, far: 100 };
    call('near');
    call('far');
    await watch.refresh(0.8);
    expect(watch.usedAtLeast(0.8)).toEqual([{ tenantId: 'near', quota: 'tokens_per_month', used: 0.9 }]);
    quotas.asked.length = 0;
    quotas.used = { near: 100 };
    await watch.refresh(0.8);
    expect(quotas.asked).toEqual(['near']);
    expect(watch.usedAtLeast(0.8)).toEqual([]);
  });

  it('should export what is left of each limited quota, for labelled tenants only', async () => {
    const { quotas, watch, call, remaining } = setUp(1);
    quotas.used = { first: 250, second: 500 };
    call('first');
    call('second');
    await watch.refresh(0.8);
    expect(await remaining()).toEqual([{ tenant: 'first', quota: 'tokens_per_month', value: 0.75 }]);
  });
});
