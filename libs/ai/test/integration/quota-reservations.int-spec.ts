import { TenantQuotaExceededError } from '../../src/errors/ai-errors';
import { ABANDONED_OUTCOME, QuotaRepository, Reservation, ReservationRequest } from '../../src/tenancy/quota.repository';
import { ReservationEntity } from '../../src/tenancy/reservation.entity';
import { LimitOverrides } from '../../src/tenancy/tenant-limits';
import { utcPeriods } from '../../src/tenancy/utc-periods';
import { aChatRequest } from '../factories';
import { aReservationRequest, aSettlement, aTenant, query, Replica, startReplica } from './replica';
import { describeEachDatabase, describeWithPostgres, postgresDatabases } from './services';

const BUDGET = 20;
const BURST = 10 * BUDGET;

interface Burst {
  admitted: Reservation[];
  refused: unknown[];
  /** The requests refused, in the order they were asked. */
  refusedRequests: ReservationRequest[];
}

/** Every reservation at once, as concurrent requests would ask for them, spread over the replicas. */
async function reserveAll(replicas: Replica[], requests: ReservationRequest[]): Promise<Burst> {
  const outcomes = await Promise.allSettled(requests.map((request, i) => replicas[i % replicas.length].leases.reserve(request)));
  return {
    admitted: outcomes.flatMap((outcome) => (outcome.status === 'fulfilled' ? [outcome.value] : [])),
    refused: outcomes.flatMap((outcome) => (outcome.status === 'rejected' ? [outcome.reason] : [])),
    refusedRequests: requests.filter((_, i) => outcomes[i].status === 'rejected'),
  };
}

const totalTokens = (spends: { tokens: number }[]) => spends.reduce((total, spend) => total + spend.tokens, 0);

describeEachDatabase('Quota reservations', (databases) => {
  let url: string;
  let replica: Replica;

  beforeAll(async () => {
    url = await databases.fresh();
  });

  beforeEach(async () => {
    // No model table, as these tests were written for: a call's reservation and bill are its tokens, priced at nothing.
    replica = await startReplica({ database: { url }, tenancy: { reservationTtlMs: 1_000 }, modelDefaults: false });
  });

  afterEach(() => replica.close());

  const heldReservations = (tenantId: string) => replica.database.manager.countBy(ReservationEntity, { tenantId });
  const ledgerOf = async (tenantId: string) => {
    const [row] = await query(
      replica.database,
      'SELECT COUNT(*) AS rows, SUM(prompt_tokens + completion_tokens) AS tokens, SUM(cost_micro_usd) AS cost FROM tollgate_usage_ledger WHERE tenant_id = $1',
      [tenantId],
    );
    return { rows: Number(row.rows), tokens: Number(row.tokens), cost: Number(row.cost) };
  };

  describe(`${QuotaRepository.name} under concurrency`, () => {
    it(`should admit exactly ${BUDGET} of ${BURST} concurrent reservations against requestsPerDay: ${BUDGET}`, async () => {
      const tenant = await aTenant(replica, { requestsPerDay: BUDGET });
      const now = replica.clock.now();

      const { admitted, refused } = await reserveAll(
        [replica],
        Array.from({ length: BURST }, () => aReservationRequest(replica, tenant, { tokens: 7, costMicroUsd: 3 })),
      );

      expect(admitted).toHaveLength(BUDGET);
      expect(refused).toHaveLength(BURST - BUDGET);
      for (const error of refused) {
        expect(error).toBeInstanceOf(TenantQuotaExceededError);
        expect(error).toMatchObject({ quota: 'requests_per_day', retryAfterMs: utcPeriods(now).dayEndsAt - now });
      }
      expect(await replica.quota.usage(tenant.id, now)).toMatchObject({ requestsToday: BUDGET, tokensThisMonth: 7 * BUDGET, costThisMonthMicroUsd: 3 * BUDGET });
      expect(await heldReservations(tenant.id)).toBe(BUDGET);
    });

    it(`should admit exactly ${BUDGET} reservations of 50 tokens against tokensPerMonth: ${50 * BUDGET}`, async () => {
      const tenant = await aTenant(replica, { tokensPerMonth: 50 * BUDGET });
      const now = replica.clock.now();

      const { admitted, refused } = await reserveAll(
        [replica],
        Array.from({ length: BURST }, () => aReservationRequest(replica, tenant, { tokens: 50 })),
      );

      expect(admitted).toHaveLength(BUDGET);
      for (const error of refused) {
        expect(error).toMatchObject({ code: 'tenant_quota_exceeded', quota: 'tokens_per_month', retryAfterMs: utcPeriods(now).monthEndsAt - now });
      }
      expect(await replica.quota.usage(tenant.id, now)).toMatchObject({ requestsToday: BUDGET, tokensThisMonth: 50 * BUDGET });
    });

    it('should admit exactly the reservations a cost budget pays for', async () => {
      const tenant = await aTenant(replica, { costPerMonthUsd: 0.002 });

      const { admitted, refused } = await reserveAll(
        [replica],
        Array.from({ length: BURST }, () => aReservationRequest(replica, tenant, { costMicroUsd: 100 })),
      );

      expect(admitted).toHaveLength(BUDGET);
      expect(refused.every((error) => error instanceof TenantQuotaExceededError && error.quota === 'cost_per_month')).toBe(true);
      expect((await replica.quota.usage(tenant.id, replica.clock.now())).costThisMonthMicroUsd).toBe(2_000);
    });

    it('should count exactly the admitted reservations of mixed sizes, and refuse only what no longer fitted', async () => {
      const budget = 1_000;
      const tenant = await aTenant(replica, { tokensPerMonth: budget });
      const sizes = Array.from({ length: BURST }, (_, i) => 1 + ((i * 37) % 100));

      const { admitted, refused, refusedRequests } = await reserveAll(
        [replica],
        sizes.map((tokens) => aReservationRequest(replica, tenant, { tokens })),
      );

      const used = (await replica.quota.usage(tenant.id, replica.clock.now())).tokensThisMonth;
      expect(used).toBe(totalTokens(admitted));
      expect(used).toBeLessThanOrEqual(budget);
      expect(refused.every((error) => error instanceof TenantQuotaExceededError && error.quota === 'tokens_per_month')).toBe(true);
      // Usage only grew during the burst: a refused request did not fit even in what is left now.
      expect(Math.min(...refusedRequests.map((request) => request.tokens))).toBeGreaterThan(budget - used);
    });
  });

  describe(`${QuotaRepository.name} settlement`, () => {
    it('should replace the estimate with the actual usage, whether more or fewer tokens, and write each ledger row with it', async () => {
      const tenant = await aTenant(replica, { tokensPerMonth: 10_000 });
      const now = replica.clock.now();

      const larger = await replica.leases.reserve(aReservationRequest(replica, tenant, { tokens: 100, costMicroUsd: 1_000 }));
      const whileHeld = await replica.quota.usage(tenant.id, now);
      await replica.quota.settleAll([aSettlement(larger, { tokens: 150, costMicroUsd: 1_500 })]);
      const smaller = await replica.leases.reserve(aReservationRequest(replica, tenant, { tokens: 100, costMicroUsd: 1_000 }));
      await replica.quota.settleAll([aSettlement(smaller, { tokens: 40, costMicroUsd: 400 })]);

      expect(whileHeld).toMatchObject({ tokensThisMonth: 100, costThisMonthMicroUsd: 1_000 });
      expect(await replica.quota.usage(tenant.id, now)).toMatchObject({ requestsToday: 2, tokensThisMonth: 190, costThisMonthMicroUsd: 1_900 });
      expect(await ledgerOf(tenant.id)).toEqual({ rows: 2, tokens: 190, cost: 1_900 });
      expect(await heldReservations(tenant.id)).toBe(0);
    });

    it('should settle a batch of several tenants in one go, each tenant by its own calls', async () => {
      const first = await aTenant(replica);
      const second = await aTenant(replica);
      const reservations = await Promise.all(
        [first, first, second].map((tenant) => replica.leases.reserve(aReservationRequest(replica, tenant, { tokens: 100, costMicroUsd: 10 }))),
      );

      await replica.quota.settleAll(reservations.map((reservation, i) => aSettlement(reservation, { tokens: 10 * (i + 1), costMicroUsd: i + 1 })));

      expect(await replica.quota.usage(first.id, replica.clock.now())).toMatchObject({ requestsToday: 2, tokensThisMonth: 30, costThisMonthMicroUsd: 3 });
      expect(await replica.quota.usage(second.id, replica.clock.now())).toMatchObject({ requestsToday: 1, tokensThisMonth: 30, costThisMonthMicroUsd: 3 });
      expect(await ledgerOf(first.id)).toEqual({ rows: 2, tokens: 30, cost: 3 });
    });

    it('should leave a reservation billed as reserved when its call settles after the sweep billed it', async () => {
      const tenant = await aTenant(replica);
      const reservation = await replica.leases.reserve(
        aReservationRequest(replica, tenant, { tokens: 100, promptTokens: 30, costMicroUsd: 1_000, expiresAt: replica.clock.now() + 1_000 }),
      );
      replica.clock.advance(1_001);

      const billed = await replica.quota.billExpired(replica.clock.now());
      await replica.quota.settleAll([aSettlement(reservation, { tokens: 70, costMicroUsd: 700 })]);
      const billedAgain = await replica.quota.billExpired(replica.clock.now());

      expect([billed, billedAgain]).toEqual([1, 0]);
      expect(await replica.quota.usage(tenant.id, replica.clock.now())).toMatchObject({ requestsToday: 1, tokensThisMonth: 100, costThisMonthMicroUsd: 1_000 });
      expect(await query(replica.database, 'SELECT outcome, prompt_tokens, completion_tokens FROM tollgate_usage_ledger WHERE tenant_id = $1', [tenant.id])).toEqual([
        { outcome: ABANDONED_OUTCOME, prompt_tokens: 30, completion_tokens: 70 },
      ]);
    });

    it('should not bill a reservation that was settled before it expired', async () => {
      const tenant = await aTenant(replica);
      const reservation = await replica.leases.reserve(
        aReservationRequest(replica, tenant, { tokens: 100, expiresAt: replica.clock.now() + 1_000 }),
      );
      await replica.quota.settleAll([aSettlement(reservation, { tokens: 80, costMicroUsd: 0 })]);
      replica.clock.advance(1_001);

      expect(await replica.quota.billExpired(replica.clock.now())).toBe(0);
      expect(await replica.quota.usage(tenant.id, replica.clock.now())).toMatchObject({ requestsToday: 1, tokensThisMonth: 80 });
      expect(await ledgerOf(tenant.id)).toEqual({ rows: 1, tokens: 80, cost: 0 });
    });

    it('should keep a renewed reservation from being billed as abandoned', async () => {
      const tenant = await aTenant(replica);
      const reservation = await replica.leases.reserve(aReservationRequest(replica, tenant, { tokens: 100, expiresAt: replica.clock.now() + 1_000 }));
      replica.clock.advance(900);
      await replica.quota.renew([reservation.id], replica.clock.now() + 1_000);
      replica.clock.advance(900);

      expect(await replica.quota.billExpired(replica.clock.now())).toBe(0);
      expect(await heldReservations(tenant.id)).toBe(1);
    });
  });

  describe(`${QuotaRepository.name} periods`, () => {
    it('should count a batch written across midnight in the new day, and every call\'s tokens', async () => {
      const tenant = await aTenant(replica);
      const today = utcPeriods(replica.clock.now());
      const tomorrow = utcPeriods(today.dayEndsAt);
      const call = (day: string, i: number) => ({
        leaseId: 'no-lease',
        fromLease: { requests: 0, tokens: 0, costMicroUsd: 0 },
        request: aReservationRequest(replica, tenant, { tokens: 10, costMicroUsd: 1 }),
        reservation: { id: `midnight-${i}-${tenant.id}`, tenantId: tenant.id, day, month: today.month, tokens: 10, costMicroUsd: 1 },
      });

      await replica.quota.commitReservations([call(today.day, 0), call(tomorrow.day, 1), call(tomorrow.day, 2)]);

      expect(await replica.quota.usage(tenant.id, today.dayEndsAt)).toMatchObject({ day: tomorrow.day, requestsToday: 2, tokensThisMonth: 30, costThisMonthMicroUsd: 3 });
      expect(await heldReservations(tenant.id)).toBe(3);
    });

    it("should write no call of a lease swept before its batch, and the batch's other calls all the same", async () => {
      const swept = await aTenant(replica, { tokensPerMonth: 1_000 });
      const kept = await aTenant(replica, { tokensPerMonth: 1_000 });
      const { day, month } = utcPeriods(replica.clock.now());
      const need = { requests: 0, tokens: 10, costMicroUsd: 0 };
      const lease = async (tenantId: string) => {
        const id = `lease-${tenantId}`;
        const request = aReservationRequest(replica, { id: tenantId, limits: (await replica.tenants.get(tenantId)).limits });
        await replica.quota.topUpLease({ id, tenantId, day, month, limits: request.limits, held: { requests: 0, tokens: 0, costMicroUsd: 0 }, need, now: request.now, expiresAt: request.expiresAt });
        return { id, request };
      };
      const [sweptLease, keptLease] = [await lease(swept.id), await lease(kept.id)];
      // The sweep of another replica took this one's lease for that of a dead replica, and gave its budget back.
      await replica.quota.returnLeases([sweptLease.id]);
      const call = ({ id, request }: { id: string; request: ReservationRequest }, tenantId: string) => ({
        leaseId: id,
        fromLease: need,
        request: { ...request, tokens: 10 },
        reservation: { id: `call-${tenantId}`, tenantId, day, month, tokens: 10, costMicroUsd: 0 },
      });

      const lost = await replica.quota.commitReservations([call(sweptLease, swept.id), call(keptLease, kept.id)]);

      expect([...lost]).toEqual([sweptLease.id]);
      expect(await heldReservations(swept.id)).toBe(0);
      expect(await replica.quota.usage(swept.id, replica.clock.now())).toMatchObject({ tokensThisMonth: 0 });
      expect(await heldReservations(kept.id)).toBe(1);
      expect(await replica.quota.usage(kept.id, replica.clock.now())).toMatchObject({ tokensThisMonth: 10 });
    });

    it('should renew the day\'s requests at UTC midnight and the month\'s tokens on the first of the month', async () => {
      const tenant = await aTenant(replica, { requestsPerDay: 2, tokensPerMonth: 100 });
      await replica.leases.reserve(aReservationRequest(replica, tenant, { tokens: 60 }));
      await replica.leases.reserve(aReservationRequest(replica, tenant, { tokens: 40 }));
      await expect(replica.leases.reserve(aReservationRequest(replica, tenant))).rejects.toMatchObject({ quota: 'requests_per_day' });

      replica.clock.advance(Date.UTC(2023, 10, 15) - replica.clock.now());
      const nextDay = replica.leases.reserve(aReservationRequest(replica, tenant, { tokens: 1 }));
      await expect(nextDay).rejects.toMatchObject({ quota: 'tokens_per_month' });
      const counted = await replica.leases.reserve(aReservationRequest(replica, tenant));
      replica.clock.advance(Date.UTC(2023, 11, 1) - replica.clock.now());
      const nextMonth = await replica.leases.reserve(aReservationRequest(replica, tenant, { tokens: 100 }));

      expect(counted).toMatchObject({ day: '2023-11-15', month: '2023-11' });
      expect(nextMonth).toMatchObject({ day: '2023-12-01', month: '2023-12' });
      expect(await replica.quota.usage(tenant.id, replica.clock.now())).toMatchObject({ requestsToday: 1, tokensThisMonth: 100 });
    });
  });

  describe('an unsettled reservation (its process died)', () => {
    it('should be billed as reserved once expired, once, with one ledger row', async () => {
      const tenant = await aTenant(replica, { tokensPerMonth: 1_000 });
      await replica.leases.reserve(aReservationRequest(replica, tenant, { tokens: 800, promptTokens: 300, costMicroUsd: 8, expiresAt: replica.clock.now() + 1_000 }));
      const tooLarge = aReservationRequest(replica, tenant, { tokens: 500 });
      await expect(replica.leases.reserve(tooLarge)).rejects.toMatchObject({ quota: 'tokens_per_month' });
      const beforeExpiry = await replica.quota.billExpired(replica.clock.now());
      replica.clock.advance(1_001);

      const billed = [await replica.quota.billExpired(replica.clock.now()), await replica.quota.billExpired(replica.clock.now())];

      expect(beforeExpiry).toBe(0);
      expect(billed).toEqual([1, 0]);
      await expect(replica.leases.reserve(aReservationRequest(replica, tenant, { tokens: 500 }))).rejects.toMatchObject({ quota: 'tokens_per_month' });
      expect(await replica.quota.usage(tenant.id, replica.clock.now())).toMatchObject({ requestsToday: 1, tokensThisMonth: 800, costThisMonthMicroUsd: 8 });
      expect(await ledgerOf(tenant.id)).toEqual({ rows: 1, tokens: 800, cost: 8 });
      expect(await heldReservations(tenant.id)).toBe(0);
    });

    it('should be billed by Governance after reservationTtlMs, while a call still running on a live replica keeps its reservation', async () => {
      const tenant = await aTenant(replica, { tokensPerMonth: 1_000 });
      // A call of a replica that died: its reservation is in the database and nobody renews it.
      await replica.leases.reserve(aReservationRequest(replica, tenant, { tokens: 300, expiresAt: replica.clock.now() + 1_000 }));
      const running = await replica.governance.admit(aChatRequest({ max_tokens: 500 }), { tenantId: tenant.id, requestId: 'running', stream: true });
      replica.clock.advance(700);
      await replica.governance.renewLiveReservations();
      replica.clock.advance(700);

      const billed = await replica.governance.billExpiredReservations();
      const refused = replica.governance.admit(aChatRequest({ max_tokens: 500 }), { tenantId: tenant.id, requestId: 'refused', stream: false });

      expect(billed).toBe(1);
      await expect(refused).rejects.toMatchObject({ quota: 'tokens_per_month' });
      running.finish({ outcome: 'success', attempts: 1, usage: { promptTokens: 3, completionTokens: 4 } });
      await replica.governance.drain();
      expect(await replica.quota.usage(tenant.id, replica.clock.now())).toMatchObject({ requestsToday: 2, tokensThisMonth: 307 });
      expect(await ledgerOf(tenant.id)).toEqual({ rows: 2, tokens: 307, cost: 0 });
    });
  });
});

describeWithPostgres('Quota reservations across replicas on PostgreSQL', (url) => {
  const databases = postgresDatabases(url);
  let replicas: Replica[];

  beforeAll(async () => {
    const database = { url: await databases.fresh() };
    replicas = [await startReplica({ database }), await startReplica({ database })];
  });

  afterAll(() => Promise.all(replicas.map((replica) => replica.close())));

  it('should bill each expired reservation once when both replicas sweep at the same time', async () => {
    const tenant = await aTenant(replicas[0], { tokensPerMonth: 10_000 });
    const expiresAt = replicas[0].clock.now() + 1_000;
    await reserveAll(replicas, Array.from({ length: 30 }, () => aReservationRequest(replicas[0], tenant, { tokens: 10, expiresAt })));
    const after = expiresAt + 1;

    const billed = await Promise.all([...replicas, ...replicas].map((replica) => replica.quota.billExpired(after)));

    expect(billed.reduce((total, count) => total + count, 0)).toBe(30);
    expect(await replicas[0].quota.usage(tenant.id, after)).toMatchObject({ requestsToday: 30, tokensThisMonth: 300 });
    const [ledger] = await query(replicas[0].database, 'SELECT COUNT(*) AS rows, SUM(prompt_tokens + completion_tokens) AS tokens FROM tollgate_usage_ledger WHERE tenant_id = $1', [tenant.id]);
    expect({ rows: Number(ledger.rows), tokens: Number(ledger.tokens) }).toEqual({ rows: 30, tokens: 300 });
  });

  it(`should admit exactly ${BUDGET} of ${BURST} reservations split between two replicas`, async () => {
    const tenant = await aTenant(replicas[0], { requestsPerDay: BUDGET, tokensPerMonth: null });

    const { admitted, refused } = await reserveAll(
      replicas,
      Array.from({ length: BURST }, () => aReservationRequest(replicas[0], tenant, { tokens: 11 })),
    );

    expect(admitted).toHaveLength(BUDGET);
    expect(refused.every((error) => error instanceof TenantQuotaExceededError && error.quota === 'requests_per_day')).toBe(true);
    expect(await replicas[1].quota.usage(tenant.id, replicas[1].clock.now())).toMatchObject({ requestsToday: BUDGET, tokensThisMonth: 11 * BUDGET });
  });
});
