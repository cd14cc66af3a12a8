import { FakeClock } from '../../test/fake-clock';
import { DependencyUnavailableError } from '../errors/ai-errors';
import type { RedisConnection } from '../limits/redis-connection';
import type { DatabaseProbe } from '../persistence/database-probe';
import type { KeyVerification, KeyVerdict } from '../secrets/key-verification';
import type { UpstreamKeyStatus } from '../secrets/upstream-key-manager';
import type { KeyState, UpstreamPool } from '../upstream/upstream-pool';
import { AiHealthIndicators } from './ai-health.indicators';
import { StatusPageReport, UpstreamStatusPage } from './upstream-status-page';

interface World {
  query?: () => Promise<unknown>;
  redis?: { ping: () => Promise<void> };
  verdict?: KeyVerdict;
  lastError?: UpstreamKeyStatus['lastError'];
  statusPage?: StatusPageReport['indicator'];
  /** One state per key. @default ['ready'] */
  keyStates?: KeyState[];
  /** Start-up's verification has ended. @default true */
  started?: boolean;
}

function indicatorsFor(world: World = {}): AiHealthIndicators {
  const query = world.query ?? (async () => [{ 1: 1 }]);
  const db = { dialect: 'sqlite', ping: async () => void (await query()) } as unknown as DatabaseProbe;
  const redis = { configured: world.redis !== undefined, ping: () => world.redis!.ping() } as unknown as RedisConnection;
  const keyStates = world.keyStates ?? ['ready'];
  const keys = keyStates.map((_state, index) => ({
    upstream: { name: 'openai' },
    name: `key-${index + 1}`,
    rotation: { status: () => ({ version: 'v2', fingerprint: '0123456789ab', lastError: world.lastError }) },
  }));
  const pool = {
    keys: () => keys,
    statusOf: (key: (typeof keys)[number]) => {
      const state = keyStates[keys.indexOf(key)];
      return { state, out: state === 'out' ? { reason: 'wrong_account', since: 'then' } : undefined };
    },
  } as unknown as UpstreamPool;
  const verification = { verdictOf: () => world.verdict ?? 'accepted', done: world.started ?? true } as unknown as KeyVerification;
  const statusPage = { current: async () => ({ indicator: world.statusPage ?? 'none', description: 'All good', affectedComponents: [], checkedAt: '2026-01-01T00:00:00.000Z' }) } as unknown as UpstreamStatusPage;
  return new AiHealthIndicators(db, redis, pool, verification, new FakeClock(), statusPage);
}

describe(AiHealthIndicators.name, () => {
  describe('database', () => {
    it('should be up, naming the dialect, when the database answers', async () => {
      expect(await indicatorsFor().database()).toEqual({ database: { status: 'up', dialect: 'sqlite' } });
    });

    it('should be down when the database is unreachable', async () => {
      const query = async () => Promise.reject(new DependencyUnavailableError('database', 1000, new Error('connect ECONNREFUSED 10.0.0.7:5432')));

      expect(await indicatorsFor({ query }).database()).toEqual({ database: { status: 'down', message: 'The database is unreachable.' } });
    });

    it("should never show the driver's words, which may hold the database's address", async () => {
      const query = async () => Promise.reject(new Error('password authentication failed for postgres://app@10.0.0.7:5432/db'));

      const result = JSON.stringify(await indicatorsFor({ query }).database());

      expect(result).toContain('"status":"down"');
      expect(result).not.toMatch(/10\.0\.0\.7|postgres:|password/);
    });
  });

  describe('redis', () => {
    it('should be up and say so when no Redis is configured', async () => {
      expect(await indicatorsFor().redis()).toEqual({ redis: { status: 'up', configured: false } });
    });

    it('should stay up, degraded, while Redis does not answer: limits fall back to this process', async () => {
      const redis = { ping: () => Promise.reject(new Error('connect ECONNREFUSED 10.0.0.8:6379')) };

      const result = await indicatorsFor({ redis }).redis();

      expect(result).toEqual({ redis: { status: 'up', configured: true, degraded: true, message: expect.stringContaining('Redis is unreachable') } });
      expect(JSON.stringify(result)).not.toContain('10.0.0.8');
    });
  });

  describe('upstreamKey', () => {
    it("should be up with the key's version and fingerprint, and the store's failure without its message", () => {
      const result = indicatorsFor({ lastError: { failure: 'timeout', message: 'vault https://vault.internal timed out', at: 'now' } }).upstreamKey();

      expect(result).toEqual({
        upstreamKey: {
          status: 'up',
          version: 'v2',
          fingerprint: '0123456789ab',
          verified: 'accepted',
          storeFailing: 'timeout',
          keys: [{ upstream: 'openai', key: 'key-1', version: 'v2', fingerprint: '0123456789ab', state: 'ready', verified: 'accepted', storeFailing: 'timeout' }],
        },
      });
    });

    it('should say which key is out and why', () => {
      const result = indicatorsFor({ keyStates: ['out', 'ready'] }).upstreamKey();

      expect(result.upstreamKey.status).toBe('up');
      expect(result.upstreamKey.keys).toEqual([
        expect.objectContaining({ key: 'key-1', fingerprint: '0123456789ab', state: 'out', outReason: 'wrong_account' }),
        expect.objectContaining({ key: 'key-2', state: 'ready' }),
      ]);
      expect(result.upstreamKey).not.toHaveProperty('version');
    });

    it('should stay up when every key is out, listing them: their accounts are the same on every replica', () => {
      expect(indicatorsFor({ keyStates: ['out'] }).upstreamKey()).toMatchObject({ upstreamKey: { status: 'up', keys: [{ state: 'out', outReason: 'wrong_account' }] } });
    });

    it('should be down once the upstream refused the key', () => {
      expect(indicatorsFor({ verdict: 'refused' }).upstreamKey()).toMatchObject({ upstreamKey: { status: 'down', verified: 'refused' } });
    });
  });

  describe('startup', () => {
    it('should be down while the keys are being verified', () => {
      expect(indicatorsFor({ started: false }).startup()).toMatchObject({ startup: { status: 'down', keys: [{ upstream: 'openai', key: 'key-1' }] } });
    });

    it("should be up once start-up's work is done, with each key's verdict", () => {
      expect(indicatorsFor({ verdict: 'refused' }).startup()).toEqual({ startup: { status: 'up', keys: [{ upstream: 'openai', key: 'key-1', verified: 'refused' }] } });
    });
  });

  describe('upstreamStatusPage', () => {
    it.each<[StatusPageReport['indicator'], string]>([
      ['none', 'up'],
      ['minor', 'down'],
      ['major', 'down'],
      ['critical', 'down'],
      // No page could be read: that says nothing of the upstream.
      ['unknown', 'up'],
    ])('should be %s → %s', async (indicator, status) => {
      expect(await indicatorsFor({ statusPage: indicator }).upstreamStatusPage()).toMatchObject({ upstreamStatusPage: { status, indicator } });
    });
  });

  it('should take the key each check is reported under', async () => {
    expect(Object.keys(await indicatorsFor().database('primary-db'))).toEqual(['primary-db']);
  });
});

describe('@nestjs/terminus as an optional peer dependency', () => {
  afterEach(() => jest.resetModules());

  it('should not be needed to import @tollgate/ai, only to build the health indicators', () => {
    jest.isolateModules(() => {
      jest.doMock('@nestjs/terminus', () => {
        throw new Error("Cannot find module '@nestjs/terminus'");
      });
      /* eslint-disable @typescript-eslint/no-require-imports */
      const library = require('../index') as typeof import('../index');
      const health = require('./index') as typeof import('./index');
      /* eslint-enable @typescript-eslint/no-require-imports */

      expect(library.AiModule).toBeDefined();
      expect(() => indicatorsWith(health.AiHealthIndicators)).toThrow("The package @nestjs/terminus is needed for Tollgate's health indicators and is not installed: npm install @nestjs/terminus@^11");
    });
  });
});

function indicatorsWith(Indicators: typeof AiHealthIndicators): AiHealthIndicators {
  return new Indicators({} as DatabaseProbe, {} as RedisConnection, {} as UpstreamPool, {} as KeyVerification, new FakeClock());
}
