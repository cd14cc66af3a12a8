import type { AdminApi, QuotaWindow, UsageGroup, UsageGrouping } from '../admin-api';
import { PageHeader, Pending, TenantPicker } from '../components';
import { formatCount, formatLimit, formatTime, formatUsd } from '../format';
import { UsageChart } from '../usage-chart';
import { useResource } from '../use-resource';

export function UsagePage({ api, tenantId, onTenant }: { api: AdminApi; tenantId?: string; onTenant(tenantId: string): void }) {
  const tenants = useResource(() => api.listTenants(), 'tenants');

  return (
    <>
      <PageHeader title="Usage" />
      {tenants.data ? <TenantPicker tenants={tenants.data} tenantId={tenantId} onChange={onTenant} /> : <Pending error={tenants.error} />}
      {tenantId && <TenantUsage key={tenantId} api={api} tenantId={tenantId} />}
    </>
  );
}

function TenantUsage({ api, tenantId }: { api: AdminApi; tenantId: string }) {
  const quota = useResource(() => api.quota(tenantId), tenantId);
  const byDay = useResource(() => api.usage(tenantId, 'day'), tenantId);
  const byModel = useResource(() => api.usage(tenantId, 'model'), tenantId);
  const refresh = () => {
    quota.reload();
    byDay.reload();
    byModel.reload();
  };

  return (
    <>
      <div className="actions">
        <button type="button" onClick={refresh}>
          Refresh
        </button>
      </div>
      <section className="panel" aria-label="Quota">
        <h2>Quota now</h2>
        {quota.data ? (
          <table>
            <thead>
              <tr>
                <th>Window</th>
                <th>Limit</th>
                <th>Used</th>
                <th>Left</th>
                <th>Renews</th>
              </tr>
            </thead>
            <tbody>
              <QuotaRow label="Requests today" window={quota.data.requestsPerDay} format={formatCount} />
              <QuotaRow label="Tokens this month" window={quota.data.tokensPerMonth} format={formatCount} />
              <QuotaRow label="Spend this month" window={quota.data.costPerMonthUsd} format={formatUsd} />
            </tbody>
          </table>
        ) : (
          <Pending error={quota.error} />
        )}
      </section>
      <UsageSection title="By day" grouping="day" groups={byDay.data?.data} error={byDay.error} />
      <UsageSection title="By model" grouping="model" groups={byModel.data?.data} error={byModel.error} />
    </>
  );
}

function QuotaRow({ label, window, format }: { label: string; window: QuotaWindow; format(value: number): string }) {
  return (
    <tr>
      <th scope="row">{label}</th>
      <td>{formatLimit(window.limit, format)}</td>
      <td>
        {format(window.used)}
        {window.limit !== null && window.limit > 0 && (
          // Green under half, amber from half, red from 80% (where TollgateTenantQuotaAt80Percent fires).
          <meter min={0} max={window.limit} low={window.limit * 0.5} high={window.limit * 0.8} optimum={0} value={Math.min(window.used, window.limit)} aria-label={`${label}: share used`} />
        )}
      </td>
      <td>{formatLimit(window.remaining, format)}</td>
      <td>{formatTime(window.resetsAt)}</td>
    </tr>
  );
}

function UsageSection({ title, grouping, groups, error }: { title: string; grouping: UsageGrouping; groups?: UsageGroup[]; error?: string }) {
  return (
    <section className="panel" aria-label={`Usage ${title.toLowerCase()}`}>
      <h2>{title} (this UTC month)</h2>
      {!groups ? (
        <Pending error={error} />
      ) : groups.length === 0 ? (
        <p className="muted">No request this month.</p>
      ) : (
        <>
          <UsageChart groups={groups} label={`Tokens ${title.toLowerCase()}`} />
          <table>
            <thead>
              <tr>
                <th>{grouping === 'day' ? 'Day (UTC)' : 'Model'}</th>
                <th>Requests</th>
                <th>Prompt tokens</th>
                <th>Completion tokens</th>
                <th>Cost</th>
                <th>Failures</th>
              </tr>
            </thead>
            <tbody>
              {groups.map((group) => (
                <tr key={group.key}>
                  <th scope="row">{group.key}</th>
                  <td>{formatCount(group.requests)}</td>
                  <td>{formatCount(group.promptTokens)}</td>
                  <td>{formatCount(group.completionTokens)}</td>
                  <td>{formatUsd(group.costUsd)}</td>
                  <td>{formatCount(group.failures)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}
