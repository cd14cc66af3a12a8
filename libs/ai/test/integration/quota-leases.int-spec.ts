import { TenantQuotaExceededError } from '../../src/errors/ai-errors';
import { Admission } from '../../src/tenancy/governance';
import { aChatRequest } from '../factories';
import { FakeClock } from '../fake-clock';
import { aTenant, query, Replica, startReplica } from './replica';
import { describeWithPostgres, postgresDatabases } from './services';

const QUOTA = 20_000;
/** Reservations are of a few prompt tokens plus max_tokens: mixed sizes, 50 to 500. */
const maxTokensOf = (i: number) => 50 + ((i * 137) % 451);
const TTL_MS = 300_000;

/** The calls at once, round-robin over the replicas, streamed every other one; resolves with the admitted and the refused. */
async function admitAll(replicas: Replica[], tenantId: string, calls: number, offset = 0): Promise<{ admitted: Admission[]; refused: unknown[] }> {
  const outcomes = await Promise.allSettled(
    Array.from({ length: calls }, (_, i) =>
      replicas[i % replicas.length].governance.admit(aChatRequest({ max_tokens: maxTokensOf(i + offset) }), {
        tenantId,
        requestId: `lease-${offset + i}`,
        stream: i % 2 === 0,
      }),
    ),
  );
  return {
    admitted: outcomes.flatMap((outcome) => (outcome.status === 'fulfilled' ? [outcome.value] : [])),
    refused: outcomes.flatMap((outcome) => (outcome.status === 'rejected' ? [outcome.reason] : [])),
  };
}

const reserved = (admissions: Admission[]) => admissions.reduce((sum, { estimate }) => sum + estimate.promptTokens + estimate.completionTokens, 0);

/** Each call used part of what it reserved; every fifth failed before the upstream answered. */
function finishAll(admissions: Admission[]): void {
  admissions.forEach((admission, i) =>
    admission.finish(
      i % 5 === 4
        ? { outcome: 'upstream_unavailable', attempts: 3 }
        : { outcome: 'success', attempts: 1, usage: { promptTokens: admission.estimate.promptTokens, completionTokens: Math.floor(admission.estimate.completionTokens / 3) } },
    ),
  );
}

async function countersAndLedger(replica: Replica, tenantId: string) {
  const [counters] = await query(
    replica.database,
    'SELECT day_requests, tokens, leased_requests, leased_tokens, leased_cost_micro_usd FROM tollgate_quota_usage WHERE tenant_id = $1',
    [tenantId],
  );
  const [ledger] = await query(replica.database, 'SELECT COUNT(*) AS rows, SUM(prompt_tokens + completion_tokens) AS tokens FROM tollgate_usage_ledger WHERE tenant_id = $1', [tenantId]);
  const [held] = await query(
    replica.database,
    'SELECT (SELECT COUNT(*) FROM tollgate_quota_leases WHERE tenant_id = $1) AS leases, (SELECT COUNT(*) FROM tollgate_reservations WHERE tenant_id = $1) AS reservations',
    [tenantId],
  );
  return {
    counters: { requests: Number(counters.day_requests), tokens: Number(counters.tokens) },
    leased: Number(counters.leased_requests) + Number(counters.leased_tokens) + Number(counters.leased_cost_micro_usd),
    ledger: { requests: Number(ledger.rows), tokens: Number(ledger.tokens ?? 0) },
    leases: Number(held.leases),
    reservations: Number(held.reservations),
  };
}

describeWithPostgres('Quota leases across three replicas on PostgreSQL', (url) => {
  const databases = postgresDatabases(url);
  let replicas: Replica[] = [];
  let clock: FakeClock;
  let databaseUrl: string;

  beforeEach(async () => {
    databaseUrl = await databases.fresh();
    clock = new FakeClock();
    // modelDefaults off: a call's reservation is its tokens, priced at nothing.
    replicas = [];
    for (let i = 0; i < 3; i++) replicas.push(await startReplica({ database: { url: databaseUrl }, clock, modelDefaults: false }));
  });

  afterEach(async () => {
    await Promise.all(replicas.map((replica) => replica.close().catch(() => undefined)));
  });

  it('should admit no more than the quota under 10× oversubscription of mixed streams and sizes, and then agree with the ledger', async () => {
    const tenant = await aTenant(replicas[0], { tokensPerMonth: QUOTA });
    const calls = Math.ceil((10 * QUOTA) / 280);

    const { admitted, refused } = await admitAll(replicas, tenant.id, calls);

    expect(reserved(admitted)).toBeLessThanOrEqual(QUOTA);
    // Leases hand out the last of the quota a call at a time: what no call could take is less than a call per replica.
    expect(QUOTA - reserved(admitted)).toBeLessThan(3 * 500);
    expect(refused.length).toBeGreaterThan(calls / 2);
    for (const error of refused) expect(error).toBeInstanceOf(TenantQuotaExceededError);
    expect((await countersAndLedger(replicas[0], tenant.id)).counters.tokens).toBe(reserved(admitted));

    finishAll(admitted);
    for (const replica of replicas) await replica.governance.drain();

    const after = await countersAndLedger(replicas[0], tenant.id);
    expect(after.counters).toEqual(after.ledger);
    expect(after.ledger.requests).toBe(admitted.length);
    expect({ leased: after.leased, leases: after.leases, reservations: after.reservations }).toEqual({ leased: 0, leases: 0, reservations: 0 });
  });

  it('should give back the unspent lease of a replica killed mid-load, and still admit nothing beyond the quota', async () => {
    const tenant = await aTenant(replicas[0], { tokensPerMonth: QUOTA });
    const [survivor, other, doomed] = replicas;
    // The doomed replica leases a slice and admits a few calls it never settles.
    const unsettled = await admitAll([doomed], tenant.id, 3);
    expect(unsettled.admitted).toHaveLength(3);
    // The others admit until the quota is spent, and hold their calls open.
    const first = await admitAll([survivor, other], tenant.id, Math.ceil((4 * QUOTA) / 280), 3);
    const refusedBefore = await admitAll([survivor], tenant.id, 1, 10_000);

    // kill -9: the database connection goes first, so nothing it does afterwards is written.
    await doomed.database.close();
    await doomed.close().catch(() => undefined);
    // The live replicas renew their reservations and leases on time; the dead one's expire.
    clock.advance(TTL_MS / 2);
    await Promise.all([survivor.governance.renewLiveReservations(), other.governance.renewLiveReservations()]);
    clock.advance(TTL_MS / 2 + 1);
    await survivor.governance.billExpiredReservations();
    const afterSweep = await countersAndLedger(survivor, tenant.id);
    const second = await admitAll([survivor, other], tenant.id, 40, 20_000);
    finishAll([...first.admitted, ...second.admitted]);
    await Promise.all([survivor.governance.drain(), other.governance.drain()]);

    expect(refusedBefore.refused).toHaveLength(1);
    // The sweep billed the dead replica's calls as reserved and gave back the rest of its lease: calls fit again.
    expect(afterSweep).toMatchObject({ leases: 2, reservations: first.admitted.length });
    expect(afterSweep.ledger.requests).toBe(3);
    expect(second.admitted.length).toBeGreaterThan(0);
    expect(reserved(unsettled.admitted) + reserved(first.admitted) + reserved(second.admitted)).toBeLessThanOrEqual(QUOTA);
    const end = await countersAndLedger(survivor, tenant.id);
    expect(end.counters).toEqual(end.ledger);
    expect(end.ledger.requests).toBe(3 + first.admitted.length + second.admitted.length);
    expect(end.ledger.tokens).toBeLessThanOrEqual(QUOTA);
    expect({ leased: end.leased, leases: end.leases, reservations: end.reservations }).toEqual({ leased: 0, leases: 0, reservations: 0 });
  });

  it('should return an idle lease after leaseIdleMs, so that another replica can spend it', async () => {
    const tenant = await aTenant(replicas[0], { requestsPerDay: 16 });
    const [holder, other] = replicas;
    (await admitAll([holder], tenant.id, 1)).admitted.forEach((admission) => admission.finish({ outcome: 'success', attempts: 1 }));
    const whileHeld = await admitAll([other], tenant.id, 16, 100);

    clock.advance(10_001);
    await holder.leases.returnIdle();
    const afterReturn = await admitAll([other], tenant.id, 16, 200);

    // The holder leased 2 of the 16 requests (an eighth) and used 1: the other replica had 14, and then the 1 given back.
    expect(whileHeld.admitted).toHaveLength(14);
    expect(afterReturn.admitted).toHaveLength(1);
  });

  it('should never move a tenant\'s day back: a replica whose clock is still before midnight leases the new day', async () => {
    const midnight = Date.UTC(2026, 11, 2);
    // The same database, two clocks two seconds apart, either side of midnight.
    const early = await startReplica({ database: { url: databaseUrl }, clock: new FakeClock(midnight + 1_000), modelDefaults: false });
    const late = await startReplica({ database: { url: databaseUrl }, clock: new FakeClock(midnight - 1_000), modelDefaults: false });
    replicas.push(early, late);
    const tenant = await aTenant(early, { requestsPerDay: 100 });

    const after = await admitAll([early], tenant.id, 3);
    const before = await admitAll([late], tenant.id, 2, 100);
    finishAll([...after.admitted, ...before.admitted]);
    await Promise.all([early.governance.drain(), late.governance.drain()]);

    expect([after.admitted.length, before.admitted.length]).toEqual([3, 2]);
    // Both counted in the new day, none forgotten; and nothing is left leased once both returned their leases.
    const end = await countersAndLedger(early, tenant.id);
    expect(end.counters.requests).toBe(5);
    expect(await early.quota.usage(tenant.id, midnight + 1_000)).toMatchObject({ day: '2026-12-02', requestsToday: 5 });
    expect({ leased: end.leased, leases: end.leases }).toEqual({ leased: 0, leases: 0 });
  });

  it('should count a new day\'s requests of a tenant without a request limit', async () => {
    const [replica] = replicas;
    // No quota limit at all: it takes no lease, so no top-up moves its row to the new day.
    const tenant = await aTenant(replica);
    finishAll((await admitAll([replica], tenant.id, 2)).admitted);
    await replica.governance.drain();
    clock.advance(86_400_000);

    finishAll((await admitAll([replica], tenant.id, 3, 10)).admitted);
    await replica.governance.drain();

    expect((await replica.quota.usage(tenant.id, clock.now())).requestsToday).toBe(3);
  });
});
