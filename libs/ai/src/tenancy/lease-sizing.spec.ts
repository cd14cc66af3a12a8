import fc from 'fast-check';
import { LEASE_CALLS, leaseGrant } from './lease-sizing';

describe(leaseGrant.name, () => {
  it('should lease many calls at once while the quota has plenty left', () => {
    expect(leaseGrant({ limit: 1_000_000, committed: 0, held: 0, need: 10 })).toBe(10 * LEASE_CALLS);
  });

  it('should lease exactly the call when little is left, and nothing it cannot hold', () => {
    expect(leaseGrant({ limit: 100, committed: 95, held: 0, need: 5 })).toBe(5);
    expect(leaseGrant({ limit: 100, committed: 96, held: 0, need: 5 })).toBeUndefined();
  });

  it('should count what the lease already holds towards the call', () => {
    expect(leaseGrant({ limit: 100, committed: 100, held: 5, need: 5 })).toBe(0);
    expect(leaseGrant({ limit: 100, committed: 99, held: 4, need: 5 })).toBe(1);
  });

  it('should always cover the call, never exceed the quota, and take at most an eighth of a large headroom', () => {
    fc.assert(
      fc.property(fc.nat(10_000), fc.nat(10_000), fc.nat(500), fc.integer({ min: 1, max: 500 }), (limit, committed, held, need) => {
        const grant = leaseGrant({ limit, committed, held, need });
        const headroom = limit - committed;
        if (grant === undefined) return expect(need - held).toBeGreaterThan(headroom);
        expect(held + grant).toBeGreaterThanOrEqual(need);
        expect(grant).toBeLessThanOrEqual(Math.max(0, headroom));
        if (grant > Math.max(0, need - held)) expect(grant).toBeLessThanOrEqual(headroom / 8);
      }),
    );
  });
});
