import { Injectable } from '@nestjs/common';
import { HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';
import { Database, DependencyUnavailableError, KeyVerification, RedisConnection, UpstreamKeyManager } from '@tollgate/ai';
import { ShutdownGate } from './shutdown-gate';

const PROBE_TIMEOUT_MS = 2_000;

/**
 * What readiness depends on: not shutting down, the database, and a loaded upstream key — never the
 * upstream itself. Redis is reported but never fails readiness: without it limits fall back to this
 * process and jobs wait for dispatch, so the replica still serves; pulling every replica out of the
 * load balancer would turn a degraded service into an outage.
 */
@Injectable()
export class ReadinessIndicators {
  constructor(
    private readonly health: HealthIndicatorService,
    private readonly db: Database,
    private readonly redisConnection: RedisConnection,
    private readonly keys: UpstreamKeyManager,
    private readonly verification: KeyVerification,
    private readonly shutdown: ShutdownGate,
  ) {}

  acceptingTraffic(): HealthIndicatorResult {
    const check = this.health.check('shutdown');
    return this.shutdown.acceptingTraffic ? check.up() : check.down({ message: 'shutting down' });
  }

  async database() {
    const check = this.health.check('database');
    try {
      await withTimeout(this.db.manager.query('SELECT 1'), PROBE_TIMEOUT_MS);
      return check.up({ dialect: this.db.dialect });
    } catch (error) {
      // This probe answers anyone: the driver's words would show the database's address.
      return check.down({ message: error instanceof DependencyUnavailableError ? 'The database is unreachable.' : (error as Error).message });
    }
  }

  async redis() {
    const check = this.health.check('redis');
    if (!this.redisConnection.client) return check.up({ configured: false });
    try {
      await withTimeout(this.redisConnection.ping(), PROBE_TIMEOUT_MS);
      return check.up({ configured: true, degraded: false });
    } catch {
      return check.up({ configured: true, degraded: true, message: 'Redis is unreachable: limits are counted in this replica alone, and jobs wait for dispatch.' });
    }
  }

  /**
   * Up while a key is loaded, even if its store now fails (the last good key keeps serving); the
   * details say so. This probe answers anyone: the secret's name and the store's messages are on
   * /admin/upstream only.
   */
  upstreamKey() {
    const check = this.health.check('upstreamKey');
    const { version, fingerprint, lastError } = this.keys.status();
    const details = { version, fingerprint, verified: this.verification.verdict, ...(lastError ? { storeFailing: lastError.failure } : {}) };
    return this.verification.verdict === 'refused' ? check.down(details) : check.up(details);
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms).unref()),
  ]);
}
