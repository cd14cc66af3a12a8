import type { AdminApi } from '../admin-api';
import { PageHeader, Pending } from '../components';
import { formatTime } from '../format';
import { useResource } from '../use-resource';

/** The rules of config/alerts.yaml that hold now, as of the gateway's last evaluation. */
export function AlertsPage({ api }: { api: AdminApi }) {
  const alerts = useResource(() => api.alerts(), 'alerts');

  return (
    <>
      <PageHeader title="Alerts">
        <button type="button" onClick={alerts.reload}>
          Refresh
        </button>
      </PageHeader>
      {!alerts.data ? (
        <Pending error={alerts.error} />
      ) : alerts.data.length === 0 ? (
        <p className="muted">No alert is firing or pending.</p>
      ) : (
        <table aria-label="Active alerts">
          <thead>
            <tr>
              <th>Alert</th>
              <th>Severity</th>
              <th>State</th>
              <th>Summary</th>
              <th>Labels</th>
              <th>Value</th>
              <th>Since</th>
            </tr>
          </thead>
          <tbody>
            {alerts.data.map((alert) => (
              <tr key={`${alert.name}:${JSON.stringify(alert.labels)}`}>
                <td>{alert.name}</td>
                <td>
                  <span className={`badge ${alert.severity}`}>{alert.severity}</span>
                </td>
                <td>{alert.state}</td>
                <td>{alert.summary}</td>
                <td>
                  {Object.entries(alert.labels).map(([name, value]) => (
                    <code key={name} className="label">
                      {name}={value}
                    </code>
                  ))}
                </td>
                <td>{alert.value}</td>
                <td>{formatTime(alert.firingSince ?? alert.activeSince)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
