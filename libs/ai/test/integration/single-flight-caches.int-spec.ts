import { EntityManager } from 'typeorm';
import { TenantDisabledError } from '../../src/errors/ai-errors';
import { ApiKeyEntity } from '../../src/tenancy/api-key.entity';
import { TenantEntity } from '../../src/tenancy/tenant.entity';
import { aTenant, Replica, replicaStarter } from './replica';

type FindOneBy = EntityManager['findOneBy'];

/**
 * The key and tenant caches on a replica with an in-memory SQLite: concurrent misses share one
 * lookup, and an invalidation made while a lookup is in flight is not undone by its result.
 */
describe('Single-flight key and tenant caches', () => {
  const start = replicaStarter();
  let replica: Replica;
  let findOneBy: jest.SpyInstance<ReturnType<FindOneBy>, Parameters<FindOneBy>>;

  beforeEach(async () => {
    replica = await start();
    findOneBy = jest.spyOn(replica.database.manager, 'findOneBy');
  });

  afterEach(() => findOneBy.mockRestore());

  const lookupsOf = (entity: typeof ApiKeyEntity | typeof TenantEntity) => findOneBy.mock.calls.filter(([target]) => target === entity).length;

  /** Holds the next lookup of `entity` after it has read the database, until the test releases it. */
  function holdNextLookup(entity: typeof ApiKeyEntity | typeof TenantEntity): { read: Promise<void>; release: () => void } {
    const original = findOneBy.getMockImplementation() ?? EntityManager.prototype.findOneBy;
    let release!: () => void;
    let markRead!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const read = new Promise<void>((resolve) => (markRead = resolve));
    let held = false;
    findOneBy.mockImplementation(async function (this: EntityManager, ...args: Parameters<FindOneBy>) {
      const found = await original.apply(this, args);
      if (args[0] === entity && !held) {
        held = true;
        markRead();
        await released;
      }
      return found;
    } as FindOneBy);
    return { read, release };
  }

  async function aKey() {
    const tenant = await aTenant(replica);
    const issued = await replica.keys.issue(tenant.id);
    findOneBy.mockClear();
    return { tenantId: tenant.id, issued };
  }

  it('should look a key up in the database once for 100 concurrent resolutions of it', async () => {
    const { tenantId, issued } = await aKey();

    const owners = await Promise.all(Array.from({ length: 100 }, () => replica.keys.authenticate(issued.key)));

    expect(new Set(owners.map((owner) => JSON.stringify(owner)))).toEqual(new Set([JSON.stringify({ tenantId, keyId: issued.id })]));
    expect(lookupsOf(ApiKeyEntity)).toBe(1);
    expect(lookupsOf(TenantEntity)).toBe(1);
  });

  it('should look a refused key up once for 100 concurrent attempts with it', async () => {
    const unknown = `tg-${'A'.repeat(40)}`;

    const owners = await Promise.all(Array.from({ length: 100 }, () => replica.keys.authenticate(unknown)));

    expect(owners.every((owner) => owner === undefined)).toBe(true);
    expect(lookupsOf(ApiKeyEntity)).toBe(1);
  });

  it('should look a tenant up in the database once for 100 concurrent resolutions of it', async () => {
    const tenant = await aTenant(replica);
    findOneBy.mockClear();

    const resolved = await Promise.all(Array.from({ length: 100 }, () => replica.tenants.resolveActive(tenant.id)));

    expect(resolved.every((active) => active.id === tenant.id)).toBe(true);
    expect(lookupsOf(TenantEntity)).toBe(1);
  });

  it('should not cache a failed lookup: the next resolution asks the database again', async () => {
    const { tenantId, issued } = await aKey();
    findOneBy.mockRejectedValueOnce(new Error('connection reset'));

    const failed = await Promise.allSettled(Array.from({ length: 10 }, () => replica.keys.authenticate(issued.key)));

    expect(failed.every((result) => result.status === 'rejected')).toBe(true);
    expect(lookupsOf(ApiKeyEntity)).toBe(1);
    expect(await replica.keys.authenticate(issued.key)).toEqual({ tenantId, keyId: issued.id });
    expect(lookupsOf(ApiKeyEntity)).toBe(2);
  });

  it('should honour a revoke made while a lookup of the key is in flight', async () => {
    const { issued, tenantId } = await aKey();
    const lookup = holdNextLookup(TenantEntity);
    const inFlight = replica.keys.authenticate(issued.key);
    await lookup.read;

    await replica.keys.revoke(tenantId, issued.id);
    lookup.release();

    // It asked before the revoke; every call after the revoke is refused, at once, not a TTL later.
    expect(await inFlight).toEqual({ tenantId, keyId: issued.id });
    expect(await replica.keys.authenticate(issued.key)).toBeUndefined();
  });

  it('should honour disabling a tenant while a lookup of its key is in flight', async () => {
    const { issued, tenantId } = await aKey();
    const lookup = holdNextLookup(TenantEntity);
    const inFlight = replica.keys.authenticate(issued.key);
    await lookup.read;

    await replica.tenants.disable(tenantId);
    lookup.release();

    await inFlight;
    expect(await replica.keys.authenticate(issued.key)).toBeUndefined();
  });

  it('should honour disabling a tenant while a lookup of the tenant is in flight', async () => {
    const tenant = await aTenant(replica);
    const lookup = holdNextLookup(TenantEntity);
    const inFlight = replica.tenants.resolveActive(tenant.id);
    await lookup.read;

    await replica.tenants.disable(tenant.id);
    lookup.release();

    await expect(inFlight).resolves.toMatchObject({ id: tenant.id });
    await expect(replica.tenants.resolveActive(tenant.id)).rejects.toBeInstanceOf(TenantDisabledError);
  });
});
