import { createHash } from 'node:crypto';
import {
  ApiKeyNotFoundError,
  InvalidLimitsError,
  InvalidTenantIdError,
  TenantDisabledError,
  TenantExistsError,
  TenantNotFoundError,
  UnknownPlanError,
} from '../../src/errors/ai-errors';
import { ApiKeyService } from '../../src/tenancy/api-key.service';
import { TenantService } from '../../src/tenancy/tenant.service';
import { DEFAULT_PLAN, UNLIMITED } from '../../src/tenancy/tenant-limits';
import { aTenantId, query, Replica, startReplica } from './replica';
import { describeEachDatabase } from './services';

const KEY_CACHE_TTL_MS = 500;
const STARTER = { requestsPerDay: 100, tokensPerMonth: 10_000 };
const MODELS = { 'gpt-4o': { inputPerMillionUsd: 2.5, outputPerMillionUsd: 10 } };

describeEachDatabase('Tenants and API keys', (databases) => {
  let url: string;
  let replica: Replica;

  beforeAll(async () => {
    url = await databases.fresh();
  });

  beforeEach(async () => {
    replica = await startReplica({
      database: { url },
      plans: { starter: STARTER },
      models: MODELS,
      tenancy: { keyCacheTtlMs: KEY_CACHE_TTL_MS },
    });
  });

  afterEach(() => replica.close());

  const aStarterTenant = (id = aTenantId()) => replica.tenants.create({ id, name: `Tenant ${id}`, plan: 'starter' });

  describe(TenantService.name, () => {
    it('should create a tenant on the default plan and read it back', async () => {
      const id = aTenantId();

      const created = await replica.tenants.create({ id, name: 'Acme' });

      expect(created).toEqual({
        id,
        name: 'Acme',
        plan: 'default',
        status: 'active',
        limits: DEFAULT_PLAN,
        overrides: {},
        logContent: false,
        createdAt: new Date(replica.clock.now()).toISOString(),
        updatedAt: new Date(replica.clock.now()).toISOString(),
      });
      expect(await replica.tenants.get(id)).toEqual(created);
    });

    it('should generate a tn_ id when none is given', async () => {
      const created = await replica.tenants.create({ name: 'No id' });

      expect(created.id).toMatch(/^tn_[0-9a-f]{16}$/);
      expect((await replica.tenants.get(created.id)).name).toBe('No id');
    });

    it('should refuse a second tenant with the same id, an unknown plan and an invalid id', async () => {
      const id = aTenantId();
      await replica.tenants.create({ id, name: 'First' });

      await expect(replica.tenants.create({ id, name: 'Second' })).rejects.toBeInstanceOf(TenantExistsError);
      await expect(replica.tenants.create({ name: 'Plan-less', plan: 'platinum' })).rejects.toBeInstanceOf(UnknownPlanError);
      await expect(replica.tenants.create({ id: 'Not Valid!', name: 'Bad id' })).rejects.toBeInstanceOf(InvalidTenantIdError);
      expect((await replica.tenants.get(id)).name).toBe('First');
    });

    it('should list tenants in the order they were created', async () => {
      const ids = [aTenantId(), aTenantId(), aTenantId()];
      for (const id of ids) {
        await replica.tenants.create({ id, name: id });
        replica.clock.advance(1);
      }

      const listed = (await replica.tenants.list()).map((tenant) => tenant.id).filter((id) => ids.includes(id));

      expect(listed).toEqual(ids);
    });

    it('should throw TenantNotFoundError for an unknown tenant', async () => {
      await expect(replica.tenants.get(aTenantId())).rejects.toBeInstanceOf(TenantNotFoundError);
      await expect(replica.tenants.update(aTenantId(), { name: 'x' })).rejects.toBeInstanceOf(TenantNotFoundError);
      await expect(replica.tenants.setLimits(aTenantId(), { requestsPerDay: 1 })).rejects.toBeInstanceOf(TenantNotFoundError);
    });

    it('should update the name and the plan, and move updatedAt', async () => {
      const { id, createdAt } = await replica.tenants.create({ id: aTenantId(), name: 'Before' });
      replica.clock.advance(60_000);

      const updated = await replica.tenants.update(id, { name: 'After', plan: 'starter' });

      expect(updated).toMatchObject({ name: 'After', plan: 'starter', createdAt, limits: { ...UNLIMITED, ...STARTER } });
      expect(updated.updatedAt).toBe(new Date(replica.clock.now()).toISOString());
      expect(await replica.tenants.get(id)).toEqual(updated);
      await expect(replica.tenants.update(id, { plan: 'platinum' })).rejects.toBeInstanceOf(UnknownPlanError);
    });

    it('should disable a tenant, which then cannot make calls', async () => {
      const { id } = await replica.tenants.create({ id: aTenantId(), name: 'Leaving' });
      await replica.tenants.resolveActive(id);

      const disabled = await replica.tenants.disable(id);

      expect(disabled.status).toBe('disabled');
      expect((await replica.tenants.get(id)).status).toBe('disabled');
      await expect(replica.tenants.resolveActive(id)).rejects.toBeInstanceOf(TenantDisabledError);
    });

    it('should not provision an unknown tenant when autoProvision is off', async () => {
      const id = aTenantId();

      await expect(replica.tenants.resolveActive(id)).rejects.toBeInstanceOf(TenantNotFoundError);
      await expect(replica.tenants.get(id)).rejects.toBeInstanceOf(TenantNotFoundError);
    });

    it("should replace limit overrides: null removes a limit, an absent one is the plan's again", async () => {
      const { id } = await aStarterTenant();

      await replica.tenants.setLimits(id, { requestsPerDay: null, concurrentRequests: 3 });
      const view = await replica.tenants.setLimits(id, { tokensPerMonth: 500, allowedModels: ['gpt-4o'] });

      const expected = { ...UNLIMITED, ...STARTER, tokensPerMonth: 500, allowedModels: ['gpt-4o'] };
      expect(view.limits).toEqual(expected);
      expect(view.overrides).toEqual({ tokensPerMonth: 500, allowedModels: ['gpt-4o'] });
      expect((await replica.tenants.get(id)).limits).toEqual(expected);
      expect((await replica.tenants.resolveActive(id)).limits).toEqual(expected);
    });

    it('should keep the limits in the database, for another replica to read', async () => {
      const { id } = await aStarterTenant();
      await replica.tenants.setLimits(id, { requestsPerDay: null, tokensPerMinute: 1_000 });
      const other = await startReplica({ database: { url }, plans: { starter: STARTER } });

      const active = await other.tenants.resolveActive(id);

      expect(active.limits).toEqual({ ...UNLIMITED, tokensPerMonth: STARTER.tokensPerMonth, tokensPerMinute: 1_000 });
      await other.close();
    });

    it('should refuse negative, fractional and unknown-model limits with InvalidLimitsError, changing nothing', async () => {
      const { id } = await aStarterTenant();

      await expect(replica.tenants.setLimits(id, { requestsPerDay: -1 })).rejects.toMatchObject({ code: 'invalid_limits', param: 'requestsPerDay' });
      await expect(replica.tenants.setLimits(id, { tokensPerMonth: 1.5 })).rejects.toBeInstanceOf(InvalidLimitsError);
      await expect(replica.tenants.setLimits(id, { costPerMonthUsd: -0.01 })).rejects.toMatchObject({ param: 'costPerMonthUsd' });
      await expect(replica.tenants.setLimits(id, { allowedModels: ['gpt-9'] })).rejects.toMatchObject({ param: 'allowedModels' });
      expect((await replica.tenants.get(id)).limits).toEqual({ ...UNLIMITED, ...STARTER });
    });

    it("should treat an override given as undefined as absent, keeping the plan's limit", async () => {
      const { id } = await aStarterTenant();

      const view = await replica.tenants.setLimits(id, { requestsPerDay: undefined, tokensPerMonth: 20_000 });

      expect(view.limits.requestsPerDay).toBe(STARTER.requestsPerDay);
    });
  });

  describe(ApiKeyService.name, () => {
    it('should issue a key that authenticates as its tenant', async () => {
      const { id } = await aStarterTenant();

      const issued = await replica.keys.issue(id, 'ci');

      expect(issued.key).toMatch(/^tg-[A-Za-z0-9_-]{40}$/);
      expect(issued).toMatchObject({ prefix: issued.key.slice(0, 10), name: 'ci' });
      expect(await replica.keys.authenticate(issued.key)).toEqual({ tenantId: id, keyId: issued.id });
    });

    it('should store only a hash and a prefix of the key, never the key', async () => {
      const { id } = await aStarterTenant();
      const { key, id: keyId } = await replica.keys.issue(id);

      const rows = await query(replica.database, 'SELECT * FROM tollgate_api_keys WHERE tenant_id = $1', [id]);

      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ id: keyId, prefix: key.slice(0, 10), key_hash: createHash('sha256').update(key).digest('hex') });
      expect(JSON.stringify(rows)).not.toContain(key.slice(10));
    });

    it('should authenticate on another replica, which shares only the database', async () => {
      const { id } = await aStarterTenant();
      const issued = await replica.keys.issue(id);
      const other = await startReplica({ database: { url }, plans: { starter: STARTER } });

      expect(await other.keys.authenticate(issued.key)).toEqual({ tenantId: id, keyId: issued.id });
      await other.close();
    });

    it("should list a tenant's keys without their secret, and refuse keys for an unknown tenant", async () => {
      const { id } = await aStarterTenant();
      const first = await replica.keys.issue(id, 'first');
      replica.clock.advance(1);
      const second = await replica.keys.issue(id, 'second');

      const listed = await replica.keys.list(id);

      expect(listed).toEqual([
        { id: first.id, prefix: first.prefix, name: 'first', createdAt: first.createdAt, revokedAt: null },
        { id: second.id, prefix: second.prefix, name: 'second', createdAt: second.createdAt, revokedAt: null },
      ]);
      await expect(replica.keys.issue(aTenantId())).rejects.toBeInstanceOf(TenantNotFoundError);
      await expect(replica.keys.list(aTenantId())).rejects.toBeInstanceOf(TenantNotFoundError);
    });

    it('should stop authenticating a revoked key once the cache TTL has passed', async () => {
      const { id } = await aStarterTenant();
      const revoked = await replica.keys.issue(id);
      const kept = await replica.keys.issue(id);
      await replica.keys.authenticate(revoked.key);
      const revokedAt = new Date(replica.clock.now()).toISOString();

      await replica.keys.revoke(id, revoked.id);
      replica.clock.advance(KEY_CACHE_TTL_MS + 1);

      expect(await replica.keys.authenticate(revoked.key)).toBeUndefined();
      expect(await replica.keys.authenticate(kept.key)).toEqual({ tenantId: id, keyId: kept.id });
      expect((await replica.keys.list(id)).find((key) => key.id === revoked.id)?.revokedAt).toBe(revokedAt);
    });

    it('should revoke idempotently, and refuse an unknown key or another tenant\'s key', async () => {
      const { id } = await aStarterTenant();
      const { id: otherTenant } = await aStarterTenant();
      const issued = await replica.keys.issue(id);

      await replica.keys.revoke(id, issued.id);
      await expect(replica.keys.revoke(id, issued.id)).resolves.toBeUndefined();
      await expect(replica.keys.revoke(otherTenant, issued.id)).rejects.toBeInstanceOf(ApiKeyNotFoundError);
      await expect(replica.keys.revoke(id, '00000000-0000-4000-8000-000000000000')).rejects.toBeInstanceOf(ApiKeyNotFoundError);
    });

    it("should stop authenticating a disabled tenant's key once the cache TTL has passed, and again after it is enabled", async () => {
      const { id } = await aStarterTenant();
      const { key } = await replica.keys.issue(id);
      await replica.keys.authenticate(key);

      await replica.tenants.disable(id);
      replica.clock.advance(KEY_CACHE_TTL_MS + 1);
      const whileDisabled = await replica.keys.authenticate(key);
      await replica.tenants.update(id, { status: 'active' });
      replica.clock.advance(KEY_CACHE_TTL_MS + 1);

      expect(whileDisabled).toBeUndefined();
      expect(await replica.keys.authenticate(key)).toMatchObject({ tenantId: id });
    });

    it('should return undefined for malformed and unknown keys', async () => {
      const { id } = await aStarterTenant();
      const { key } = await replica.keys.issue(id);

      const attempts = ['', 'sk-proj-abc', 'tg-short', `${key}x`, key.slice(0, -1), `${key.slice(0, -1)}!`, ` ${key.slice(1)}`, `tg-${'A'.repeat(40)}`];

      for (const attempt of attempts) expect(await replica.keys.authenticate(attempt)).toBeUndefined();
      expect(await replica.keys.authenticate(key)).toMatchObject({ tenantId: id });
    });
  });
});
