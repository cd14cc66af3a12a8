import { Test, TestingModule } from '@nestjs/testing';
import { randomBytes, randomUUID } from 'node:crypto';
import { AiModuleOptions } from '../../src/ai-module-options';
import { AiModule } from '../../src/ai.module';
import { AiService } from '../../src/ai.service';
import { Clock } from '../../src/common/clock';
import { RedisConnection } from '../../src/limits/redis-connection';
import { TenantLimiter } from '../../src/limits/tenant-limiter';
import { Database } from '../../src/persistence/database';
import { ApiKeyService } from '../../src/tenancy/api-key.service';
import { Governance } from '../../src/tenancy/governance';
import { QuotaLeases } from '../../src/tenancy/quota-leases';
import { QuotaRepository, Reservation, ReservationRequest, Settlement, Spend } from '../../src/tenancy/quota.repository';
import { QuotaService } from '../../src/tenancy/quota.service';
import { TenantService } from '../../src/tenancy/tenant.service';
import { LimitOverrides, TenantLimits, UNLIMITED } from '../../src/tenancy/tenant-limits';
import { UsageService } from '../../src/tenancy/usage.service';
import { UpstreamClient } from '../../src/upstream/upstream-client';
import { FakeClock } from '../fake-clock';
import { FakeUpstreamClient } from '../fake-upstream-client';
import { describeWithRedis } from './services';

/** One gateway process's worth of the library: `AiModule.forRoot` as a user imports it, on real stores. */
export interface Replica {
  moduleRef: TestingModule;
  clock: FakeClock;
  upstream: FakeUpstreamClient;
  ai: AiService;
  tenants: TenantService;
  keys: ApiKeyService;
  quotas: QuotaService;
  usage: UsageService;
  governance: Governance;
  quota: QuotaRepository;
  /** Where calls reserve their budget: from this replica's leases of each tenant's quota. */
  leases: QuotaLeases;
  limiter: TenantLimiter;
  database: Database;
  redis: RedisConnection;
  close(): Promise<void>;
}

export interface ReplicaOptions extends Partial<AiModuleOptions> {
  /** Several replicas given one clock agree on the time. @default a new FakeClock */
  clock?: FakeClock;
}

/**
 * Starts the module with the fake clock and upstream. The background sweeper is pushed far out
 * so that only the test releases expired reservations.
 */
export async function startReplica({ clock = new FakeClock(), ...options }: ReplicaOptions): Promise<Replica> {
  const upstream = new FakeUpstreamClient();
  const moduleRef = await Test.createTestingModule({
    imports: [
      AiModule.forRoot({
        upstream: { apiKey: 'sk-test', baseURL: 'http://127.0.0.1:9/v1' },
        ...options,
        tenancy: { autoProvision: false, keyCacheTtlMs: 1_000, sweepIntervalMs: 3_600_000, ...options.tenancy },
      }),
    ],
  })
    .overrideProvider(Clock)
    .useValue(clock)
    .overrideProvider(UpstreamClient)
    .useValue(upstream)
    .compile();
  await moduleRef.init().catch(async (error: unknown) => {
    await moduleRef.close().catch(() => undefined);
    throw error;
  });
  return {
    moduleRef,
    clock,
    upstream,
    ai: moduleRef.get(AiService),
    tenants: moduleRef.get(TenantService),
    keys: moduleRef.get(ApiKeyService),
    quotas: moduleRef.get(QuotaService),
    usage: moduleRef.get(UsageService),
    governance: moduleRef.get(Governance),
    quota: moduleRef.get(QuotaRepository),
    leases: moduleRef.get(QuotaLeases),
    limiter: moduleRef.get(TenantLimiter),
    database: moduleRef.get(Database),
    redis: moduleRef.get(RedisConnection),
    close: () => moduleRef.close(),
  };
}

/** Tenant ids are random, so that suites sharing a database or a Redis never meet. */
export const aTenantId = (): string => `it-${randomBytes(6).toString('hex')}`;

/** No limit at all: a test sets the one it is about. */
export const NO_LIMITS: LimitOverrides = UNLIMITED;

/** Creates a tenant without limits but `limits`, and returns its effective limits. */
export async function aTenant(replica: Replica, limits: LimitOverrides = {}, id = aTenantId()): Promise<{ id: string; limits: TenantLimits }> {
  await replica.tenants.create({ id, name: `Tenant ${id}` });
  const view = await replica.tenants.setLimits(id, { ...NO_LIMITS, ...limits });
  return { id, limits: view.limits };
}

/** A reservation for `tenant` now, expiring in a minute, of nothing but the request unless overridden. */
export function aReservationRequest(
  replica: Replica,
  tenant: { id: string; limits: TenantLimits },
  overrides: Partial<ReservationRequest> = {},
): ReservationRequest {
  const now = replica.clock.now();
  return {
    tenantId: tenant.id,
    requestId: randomUUID(),
    keyId: null,
    endpoint: 'chat.completions',
    model: 'gpt-4o-mini',
    stream: false,
    promptTokens: 0,
    tokens: 0,
    costMicroUsd: 0,
    limits: tenant.limits,
    now,
    expiresAt: now + 60_000,
    ...overrides,
  };
}

/** The end of a reserved call that used `actual`, all of it counted as prompt tokens. */
export function aSettlement(reservation: Reservation, actual: Spend, at = Date.now()): Settlement {
  return {
    reservation,
    row: {
      id: randomUUID(),
      requestId: randomUUID(),
      tenantId: reservation.tenantId,
      keyId: null,
      endpoint: 'chat.completions',
      modelRequested: 'gpt-4o-mini',
      modelServed: 'gpt-4o-mini',
      promptTokens: actual.tokens,
      completionTokens: 0,
      cachedTokens: 0,
      reasoningTokens: 0,
      costMicroUsd: actual.costMicroUsd,
      attempts: 1,
      outcome: 'success',
      stream: false,
      latencyMs: 1,
      createdAt: at,
    },
  };
}

/** Runs a raw query written with PostgreSQL's `$1` placeholders on either dialect. */
export function query<T = Record<string, unknown>>(database: Database, sql: string, parameters: unknown[] = []): Promise<T[]> {
  return database.manager.query(database.dialect === 'sqlite' ? sql.replace(/\$\d+/g, '?') : sql, parameters);
}

/** Starts replicas for one test; every one is closed after it. */
export type StartReplica = (options?: ReplicaOptions) => Promise<Replica>;

/**
 * Declares a limiter suite twice with one body: with in-process limits (no Redis configured),
 * and on Redis under the `TEST_REDIS_URL` contract. The database is an in-memory SQLite.
 */
export function describeEachLimiterStore(name: string, body: (start: StartReplica, store: 'memory' | 'redis') => void): void {
  describe(`${name} in process`, () => body(replicaStarter(), 'memory'));
  describeWithRedis(`${name} on Redis`, (url) => body(replicaStarter({ redis: { url } }), 'redis'));
}

export function replicaStarter(defaults: ReplicaOptions = {}): StartReplica {
  const started: Replica[] = [];
  afterEach(async () => {
    await Promise.all(started.splice(0).map((replica) => replica.close()));
  });
  return async (options = {}) => {
    const replica = await startReplica({ database: { url: 'sqlite::memory:' }, ...defaults, ...options });
    started.push(replica);
    return replica;
  };
}
