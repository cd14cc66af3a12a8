import { Inject, Injectable, Optional } from '@nestjs/common';
import type { HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';
import { Clock, InjectClock } from '../common/clock';
import { DependencyUnavailableError } from '../errors/ai-errors';
import { RedisConnection } from '../limits/redis-connection';
import { Database } from '../persistence/database';
import type { DatabaseProbe } from '../persistence/database-probe';
import { KeyVerification } from '../secrets/key-verification';
import { UpstreamPool } from '../upstream/upstream-pool';
import { loadTerminus } from './terminus';
import { UpstreamStatusPage } from './upstream-status-page';

const PROBE_TIMEOUT_MS = 2_000;

/**
 * Terminus health indicators for what AiModule runs on; provide this class beside AiModule and call
 * its checks from `HealthCheckService.check([...])`. Readiness should depend on the database and the
 * upstream key, never on the upstream itself. Redis is reported but never fails: without it limits
 * fall back to this process and jobs wait for dispatch, so the replica still serves; pulling every
 * replica out of the load balancer would turn a degraded service into an outage. The probes answer
 * anyone, so no check shows an address, a secret's name or a driver's words.
 *
 * Needs @nestjs/terminus (an optional peer dependency), loaded when this class is built.
 */
@Injectable()
export class AiHealthIndicators {
  private readonly health: HealthIndicatorService;
  private readonly statusPage: UpstreamStatusPage;

  constructor(
    /** Absent when the module has no database. */
    @Optional() @Inject(Database) private readonly db: DatabaseProbe | undefined,
    private readonly redisConnection: RedisConnection,
    private readonly pool: UpstreamPool,
    private readonly verification: KeyVerification,
    @InjectClock() clock: Clock,
    @Optional() statusPage?: UpstreamStatusPage,
  ) {
    this.health = new (loadTerminus().HealthIndicatorService)();
    this.statusPage = statusPage ?? new UpstreamStatusPage(undefined, clock);
  }

  /** Down when the database does not answer `SELECT 1` within two seconds; up, `configured: false`, without one. */
  async database(key = 'database'): Promise<HealthIndicatorResult> {
    const check = this.health.check(key);
    if (!this.db) return check.up({ configured: false });
    try {
      await withTimeout(this.db.ping(), PROBE_TIMEOUT_MS);
      return check.up({ dialect: this.db.dialect });
    } catch (error) {
      return check.down({ message: databaseFailure(error) });
    }
  }

  /** Always up; `degraded: true` while a configured Redis does not answer. */
  async redis(key = 'redis'): Promise<HealthIndicatorResult> {
    const check = this.health.check(key);
    if (!this.redisConnection.configured) return check.up({ configured: false });
    try {
      await withTimeout(this.redisConnection.ping(), PROBE_TIMEOUT_MS);
      return check.up({ configured: true, degraded: false });
    } catch {
      return check.up({ configured: true, degraded: true, message: 'Redis is unreachable: limits are counted in this replica alone, and jobs wait for dispatch.' });
    }
  }

  /**
   * Down until start-up's work is done (the database migrated, the keys read and, when configured, verified: that
   * runs beside the start, which does not wait for the upstream); then up for good, with each key's verdict. For a
   * startup probe, and for readiness, which should not take traffic before the keys are known.
   */
  startup(key = 'startup'): HealthIndicatorResult {
    const check = this.health.check(key);
    const keys = this.pool.keys().map((pooled) => ({ upstream: pooled.upstream.name, key: pooled.name, verified: this.verification.verdictOf(pooled) }));
    return this.verification.done ? check.up({ keys }) : check.down({ message: 'Starting: the upstream keys are being verified.', keys });
  }

  /**
   * Up while a key is loaded that the upstream did not refuse at start-up; down once it refused every key. Every key
   * is listed by upstream, name, version and fingerprint with its state, so that a key taken out (out of credit, or
   * answering for the wrong account) shows here; such a key never fails readiness, as its account is the same on
   * every replica and pulling them all out of the load balancer would only add an outage. The only key's fields are
   * also at the top. Never the key, the secret's name or the store's messages; a store that fails while the last good
   * key keeps serving is named by its failure.
   */
  upstreamKey(key = 'upstreamKey'): HealthIndicatorResult {
    const check = this.health.check(key);
    const keys = this.pool.keys().map((pooled) => {
      const { version, fingerprint, lastError } = pooled.rotation.status();
      const { state, out } = this.pool.statusOf(pooled);
      return {
        upstream: pooled.upstream.name,
        key: pooled.name,
        version,
        fingerprint,
        state,
        verified: this.verification.verdictOf(pooled),
        ...(out ? { outReason: out.reason } : {}),
        ...(lastError ? { storeFailing: lastError.failure } : {}),
      };
    });
    const [only] = keys;
    const top = keys.length === 1 ? { version: only.version, fingerprint: only.fingerprint, verified: only.verified, ...(only.storeFailing ? { storeFailing: only.storeFailing } : {}) } : {};
    const details = { ...top, keys };
    const refusedEveryKey = keys.every((status) => status.verified === 'refused');
    return refusedEveryKey ? check.down(details) : check.up(details);
  }

  /**
   * Down while the upstream's status page reports an incident; up, with `indicator: 'unknown'`, when no page could be
   * read (that says nothing of the upstream). Informative: never wire it into a probe, or an upstream outage takes
   * every replica out of the load balancer.
   */
  async upstreamStatusPage(key = 'upstreamStatusPage'): Promise<HealthIndicatorResult> {
    const check = this.health.check(key);
    const report = await this.statusPage.current();
    return report.indicator === 'none' || report.indicator === 'unknown' ? check.up({ ...report }) : check.down({ ...report });
  }
}

function databaseFailure(error: unknown): string {
  if (error instanceof DependencyUnavailableError) return 'The database is unreachable.';
  if (error instanceof ProbeTimeoutError) return `The database gave no answer within ${PROBE_TIMEOUT_MS} ms.`;
  return 'The database failed the check query.';
}

class ProbeTimeoutError extends Error {}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => setTimeout(() => reject(new ProbeTimeoutError(`no answer within ${ms} ms`)), ms).unref()),
  ]);
}
