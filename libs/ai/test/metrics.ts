import { TelemetryOptions } from '../src/ai-module-options';
import { DependencyStatus } from '../src/health/dependency-status';
import { JobEvents } from '../src/jobs/job-events';
import { RedisConnection } from '../src/limits/redis-connection';
import { Database } from '../src/persistence/database';
import { AiMetrics } from '../src/telemetry/ai-metrics';
import { CallEvents } from '../src/telemetry/call-events';
import { LedgerEvents } from '../src/telemetry/ledger-events';
import { BreakerRegistry } from '../src/upstream/breaker-registry';
import { UpstreamEvents } from '../src/upstream/upstream-events';
import { UpstreamPool } from '../src/upstream/upstream-pool';

/**
 * The metrics, listening to the events a unit test announces on `calls` or `jobs`; the key pool, the
 * breakers, the database and Redis are stand-ins that announce nothing.
 */
export function listeningMetrics(telemetry: TelemetryOptions, events: { calls?: CallEvents; jobs?: JobEvents } = {}): AiMetrics {
  const pool = { keys: () => [] } as unknown as UpstreamPool;
  const breakers = { onStateChange: () => undefined } as unknown as BreakerRegistry;
  const database = { status: new DependencyStatus('database', 'in a unit test') } as unknown as Database;
  const metrics = new AiMetrics(
    pool,
    breakers,
    database,
    {} as RedisConnection,
    events.calls ?? new CallEvents(),
    new UpstreamEvents(),
    new LedgerEvents(),
    events.jobs ?? new JobEvents(),
    telemetry,
  );
  metrics.onModuleInit();
  return metrics;
}
