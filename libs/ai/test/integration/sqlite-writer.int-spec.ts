import BetterSqlite3 from 'better-sqlite3';
import { SqliteWriter } from '../../src/persistence/sqlite-writer';
import { aChatCompletion, aChatRequest } from '../factories';
import { respond } from '../fake-upstream-client';
import { UsageLedger } from '../../src/tenancy/usage-ledger';
import { aReservationRequest, aSettlement, aTenant, query, Replica, startReplica } from './replica';
import { sqliteDatabases } from './services';

const usage = { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 };
const MODELS = { 'gpt-4o': { inputPerMillionUsd: 2.5, outputPerMillionUsd: 10 } };

/** The statements the replica's own connection (the event loop's: SQLite's driver hands out its one runner) runs, while `work` runs. */
async function statementsOnTheLoop(replica: Replica, work: () => Promise<unknown>): Promise<string[]> {
  const runner = replica.database.dataSource.createQueryRunner();
  const query = jest.spyOn(runner, 'query');
  try {
    await work();
    return query.mock.calls.map(([sql]) => String(sql));
  } finally {
    query.mockRestore();
    await runner.release();
  }
}

describe('SQLite in a file: the hot path writes in a worker thread', () => {
  const databases = sqliteDatabases();
  let replica: Replica;
  let url: string;

  beforeEach(async () => {
    url = await databases.fresh();
    replica = await startReplica({ database: { url }, models: MODELS });
  });

  afterEach(() => replica.close());

  it('should take the lease, write the reservation and settle the call without a statement on the event loop, counters and ledger agreeing', async () => {
    const { id: tenantId } = await aTenant(replica, { tokensPerMonth: 1_000_000, requestsPerDay: 1_000 });
    replica.upstream.script('gpt-4o', respond(aChatCompletion({ usage })));

    const onTheLoop = await statementsOnTheLoop(replica, async () => {
      await replica.ai.chat(aChatRequest({ model: 'gpt-4o', max_tokens: 100 }), { tenantId, requestId: 'in-the-worker' });
      await replica.governance.drain();
    });

    const writes = onTheLoop.filter((sql) => /^\s*(INSERT|UPDATE|DELETE|BEGIN)/i.test(sql));
    expect(writes).toEqual([
      // drain gives the lease back at the end: a rare write, left on the loop.
      expect.stringMatching(/^BEGIN/),
      expect.stringMatching(/^DELETE FROM tollgate_quota_leases/),
      expect.stringMatching(/^UPDATE tollgate_quota_usage/),
    ]);
    const [ledger] = await query<{ request_id: string; tokens: number }>(
      replica.database,
      'SELECT request_id, prompt_tokens + completion_tokens AS tokens FROM tollgate_usage_ledger WHERE tenant_id = $1',
      [tenantId],
    );
    expect(ledger).toEqual({ request_id: 'in-the-worker', tokens: 15 });
    expect(await replica.quota.usage(tenantId, replica.clock.now())).toMatchObject({ requestsToday: 1, tokensThisMonth: 15 });
    expect(await query(replica.database, 'SELECT id FROM tollgate_reservations')).toEqual([]);
  });

  it('should write on the loop once the thread has stopped, nothing lost', async () => {
    const { id: tenantId } = await aTenant(replica, { tokensPerMonth: 1_000_000 });
    const writers = (replica.database as unknown as { writers: Map<string, SqliteWriter> }).writers;
    expect(writers.size).toBe(1);
    const [writer] = writers.values();
    await writer.stop();
    expect(writer.alive).toBe(false);
    replica.upstream.script('gpt-4o', respond(aChatCompletion({ usage })));

    await replica.ai.chat(aChatRequest({ model: 'gpt-4o', max_tokens: 100 }), { tenantId, requestId: 'on-the-loop' });
    await replica.governance.drain();

    expect(await query(replica.database, 'SELECT request_id FROM tollgate_usage_ledger WHERE tenant_id = $1', [tenantId])).toEqual([{ request_id: 'on-the-loop' }]);
    expect(await replica.quota.usage(tenantId, replica.clock.now())).toMatchObject({ tokensThisMonth: 15 });
  });

  it('should write a large batch of settlements in several transactions, each settlement once, when a later one fails', async () => {
    const tenant = await aTenant(replica, { tokensPerMonth: 1_000_000 });
    const reservations = await Promise.all(Array.from({ length: 60 }, () => replica.leases.reserve(aReservationRequest(replica, tenant, { tokens: 10 }))));
    const settlements = reservations.map((reservation) => aSettlement(reservation, { tokens: 7, costMicroUsd: 0 }));
    // A NULL outcome breaks the ledger's NOT NULL: the third of the thread's transactions (rows 50 to 59) is refused.
    (settlements[55].row as { outcome: string | null }).outcome = null;
    const ledger = replica.moduleRef.get(UsageLedger);
    const [writer] = (replica.database as unknown as { writers: Map<string, SqliteWriter> }).writers.values();
    const calls = jest.spyOn(writer, 'call');

    for (const { reservation, row } of settlements) ledger.record(reservation, row);
    await ledger.flush();

    // Three transactions of the thread (25, 25 and the refused 10), then each settlement on its own.
    const settled = calls.mock.calls.filter(([method]) => method === 'settleAll').map(([, argument]) => (argument as unknown[]).length);
    expect(settled.slice(0, 3)).toEqual([25, 25, 10]);
    expect(settled.slice(3)).toEqual(Array(60).fill(1));

    const rows = await query<{ request_id: string }>(replica.database, 'SELECT request_id FROM tollgate_usage_ledger WHERE tenant_id = $1', [tenant.id]);
    const expected = settlements.filter((_, index) => index !== 55).map(({ row }) => row.requestId);
    expect(rows.map((row) => row.request_id).sort()).toEqual(expected.sort());
    expect(await query(replica.database, 'SELECT tenant_id FROM tollgate_usage_dead_letters')).toEqual([{ tenant_id: tenant.id }]);
    expect(await query(replica.database, 'SELECT id FROM tollgate_reservations')).toEqual([]);
    // 59 calls settled at 7 tokens, the dead letter left at its reservation's 10.
    expect(await replica.quota.usage(tenant.id, replica.clock.now())).toMatchObject({ tokensThisMonth: 59 * 7 + 10 });
  });

  it('should keep settlements for the next flush, not dead-letter them, while another connection holds the lock past the busy timeout', async () => {
    const tenant = await aTenant(replica, { tokensPerMonth: 1_000_000 });
    const reservation = await replica.leases.reserve(aReservationRequest(replica, tenant, { tokens: 10 }));
    const { row } = aSettlement(reservation, { tokens: 7, costMicroUsd: 0 });
    const ledger = replica.moduleRef.get(UsageLedger);
    const blocker = new BetterSqlite3(url.slice('sqlite:'.length));
    blocker.exec('BEGIN IMMEDIATE');

    ledger.record(reservation, row);
    await ledger.flush();
    const ledgerRows = () => query(replica.database, 'SELECT request_id FROM tollgate_usage_ledger WHERE tenant_id = $1', [tenant.id]);
    expect(await ledgerRows()).toEqual([]);
    blocker.exec('ROLLBACK');
    blocker.close();
    await ledger.flush();

    expect(await ledgerRows()).toEqual([{ request_id: row.requestId }]);
    expect(await query(replica.database, 'SELECT id FROM tollgate_usage_dead_letters')).toEqual([]);
  }, 20_000);
});
