import type { AdminApi, UpstreamKey } from '../admin-api';
import { PageHeader, Pending } from '../components';
import { formatCount, formatTime } from '../format';
import { useResource } from '../use-resource';

/** Breakers and upstream keys: each key by its name and fingerprint, never its secret (the API never sends it). */
export function UpstreamPage({ api }: { api: AdminApi }) {
  const upstream = useResource(() => api.upstream(), 'upstream');

  return (
    <>
      <PageHeader title="Upstream">
        <button type="button" onClick={upstream.reload}>
          Refresh
        </button>
      </PageHeader>
      {upstream.data ? (
        <>
          <section className="panel" aria-label="Breakers">
            <h2>Breakers</h2>
            {upstream.data.breakers.length === 0 ? (
              <p className="muted">No model called since the gateway started: breakers appear with the first call.</p>
            ) : (
              <table>
                <thead>
                  <tr>
                    <th>Upstream</th>
                    <th>Model</th>
                    <th>State</th>
                    <th>Recent calls</th>
                    <th>Recent failures</th>
                    <th>Next probe</th>
                  </tr>
                </thead>
                <tbody>
                  {upstream.data.breakers.map((breaker) => (
                    <tr key={`${breaker.upstream}/${breaker.model}`}>
                      <td>{breaker.upstream}</td>
                      <td>{breaker.model}</td>
                      <td>
                        <span className={`badge ${breaker.state}`}>{breaker.state.replace('_', '-')}</span>
                      </td>
                      <td>{formatCount(breaker.recentCalls)}</td>
                      <td>{formatCount(breaker.recentFailures)}</td>
                      <td>{breaker.halfOpenAt === undefined ? '' : formatTime(breaker.halfOpenAt)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </section>
          <section className="panel" aria-label="Upstream keys">
            <h2>Keys</h2>
            <table>
              <thead>
                <tr>
                  <th>Upstream</th>
                  <th>Key</th>
                  <th>State</th>
                  <th>Weight</th>
                  <th>In flight</th>
                  <th>Source</th>
                  <th>Fingerprint</th>
                  <th>Version</th>
                  <th>At start-up</th>
                </tr>
              </thead>
              <tbody>
                {upstream.data.keys.map((key) => (
                  <tr key={`${key.upstream}/${key.key}`}>
                    <td>{key.upstream}</td>
                    <td>{key.key}</td>
                    <td>
                      <KeyState upstreamKey={key} />
                    </td>
                    <td>{key.weight}</td>
                    <td>{key.inFlight}</td>
                    <td>{key.provider}</td>
                    <td>
                      <code>{key.fingerprint}</code>
                    </td>
                    <td>
                      <code>{key.version}</code>
                    </td>
                    <td>{key.verified}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </section>
        </>
      ) : (
        <Pending error={upstream.error} />
      )}
    </>
  );
}

function KeyState({ upstreamKey: key }: { upstreamKey: UpstreamKey }) {
  return (
    <>
      <span className={`badge ${key.state}`}>{key.state}</span>
      {key.restingUntil && <small> until {formatTime(key.restingUntil)}</small>}
      {key.out && (
        <small>
          {' '}
          {key.out.reason.replaceAll('_', ' ')} since {formatTime(key.out.since)}
          {key.out.detail ? `: ${key.out.detail}` : ''}
        </small>
      )}
      {key.storeError && <small className="error"> store unreadable: {key.storeError.message}</small>}
    </>
  );
}
