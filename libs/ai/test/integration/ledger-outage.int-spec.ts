import { startTcpProxy, TcpProxy } from '../../../../test/support/tcp-proxy';
import { eventually } from '../async';
import { aChatRequest } from '../factories';
import { aTenant, query, Replica, startReplica } from './replica';
import { describeWithPostgres, postgresDatabases } from './services';

const CALLS = 20;

/** Settlements and ledger rows are written behind the calls: a database away for a while must lose none of them. */
describeWithPostgres('Settlements while PostgreSQL is away', (url) => {
  const databases = postgresDatabases(url);
  let proxy: TcpProxy;
  let replica: Replica;

  beforeAll(async () => {
    const direct = new URL(await databases.fresh());
    proxy = await startTcpProxy({ host: direct.hostname, port: Number(direct.port || 5432) });
    direct.host = `127.0.0.1:${proxy.port}`;
    replica = await startReplica({ database: { url: direct.toString() }, tenancy: { ledgerFlushIntervalMs: 50 } });
  });
  afterAll(async () => {
    await proxy.restore().catch(() => undefined);
    await replica.close();
    await proxy.close();
  });

  it('should write every settlement once the database is back, counters and ledger agreeing', async () => {
    const tenant = await aTenant(replica, { tokensPerMonth: 1_000_000 });
    const admissions = await Promise.all(
      Array.from({ length: CALLS }, (_, i) => replica.governance.admit(aChatRequest({ max_tokens: 100 }), { tenantId: tenant.id, requestId: `outage-${i}`, stream: false })),
    );

    await proxy.cut();
    for (const admission of admissions) admission.finish({ outcome: 'success', attempts: 1, usage: { promptTokens: 5, completionTokens: 7 } });
    // Several flushes fail while the database is away.
    await new Promise((resolve) => setTimeout(resolve, 500));
    await proxy.restore();
    // The first statement after the outage may still meet a connection the cut broke: the next flush writes them.
    await eventually(async () => {
      await replica.governance.drain();
      const [ledger] = await query(replica.database, 'SELECT COUNT(*) AS rows, SUM(prompt_tokens + completion_tokens) AS tokens FROM tollgate_usage_ledger WHERE tenant_id = $1', [tenant.id]);
      expect({ rows: Number(ledger.rows), tokens: Number(ledger.tokens) }).toEqual({ rows: CALLS, tokens: CALLS * 12 });
    });
    expect(await replica.quota.usage(tenant.id, replica.clock.now())).toMatchObject({ requestsToday: CALLS, tokensThisMonth: CALLS * 12 });
    expect(await query(replica.database, 'SELECT id FROM tollgate_reservations')).toEqual([]);
    expect(await query(replica.database, 'SELECT id FROM tollgate_usage_dead_letters')).toEqual([]);
  });

  it('should refuse calls whose reservations cannot be written while it is away, and hold no budget for them', async () => {
    const tenant = await aTenant(replica, { tokensPerMonth: 1_000_000, requestsPerDay: 1_000 });
    const admit = (i: number) => replica.governance.admit(aChatRequest({ max_tokens: 100 }), { tenantId: tenant.id, requestId: `away-${i}`, stream: false });
    // A first call leases a slice of the quota; the calls during the outage are admitted from it in memory.
    (await admit(0)).finish({ outcome: 'success', attempts: 1, usage: { promptTokens: 5, completionTokens: 7 } });

    await proxy.cut();
    const during = await Promise.allSettled(Array.from({ length: CALLS }, (_, i) => admit(1 + i)));
    await proxy.restore();
    await eventually(() => replica.database.manager.query('SELECT 1'));
    const after = await Promise.all(Array.from({ length: CALLS }, (_, i) => admit(100 + i)));
    for (const admission of after) admission.finish({ outcome: 'success', attempts: 1, usage: { promptTokens: 5, completionTokens: 7 } });
    await replica.governance.drain();

    expect(during.map((outcome) => (outcome.status === 'rejected' ? (outcome.reason as { code?: string }).code : 'admitted'))).toEqual(
      Array.from({ length: CALLS }, () => 'dependency_unavailable'),
    );
    expect(await replica.quota.usage(tenant.id, replica.clock.now())).toMatchObject({ requestsToday: 1 + CALLS, tokensThisMonth: (1 + CALLS) * 12 });
    const [leased] = await query(replica.database, 'SELECT leased_requests, leased_tokens FROM tollgate_quota_usage WHERE tenant_id = $1', [tenant.id]);
    expect({ requests: Number(leased.leased_requests), tokens: Number(leased.leased_tokens) }).toEqual({ requests: 0, tokens: 0 });
  });
});
