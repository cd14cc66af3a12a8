import { UsageLedger } from '../../src/tenancy/usage-ledger';
import { AiMetrics } from '../../src/telemetry/ai-metrics';
import { aChatRequest } from '../factories';
import { aTenant, query, Replica, startReplica } from './replica';
import { describeEachDatabase } from './services';

/** PostgreSQL refuses a NUL in text; SQLite stores it. Either way the ledger row must not block the others. */
const POISONED_MODEL = 'gpt-4o\u0000mini';

describeEachDatabase(`${UsageLedger.name} with a row the database refuses`, (databases) => {
  let replica: Replica;

  beforeEach(async () => {
    replica = await startReplica({ database: { url: await databases.fresh() } });
  });
  afterEach(() => replica.close());

  async function admitAndFinish(tenantId: string, requestId: string, modelServed = 'gpt-4o-mini') {
    const admission = await replica.governance.admit(aChatRequest({ max_tokens: 10 }), { tenantId, requestId, stream: false });
    admission.finish({ outcome: 'success', attempts: 1, modelServed, usage: { promptTokens: 3, completionTokens: 4 } });
  }

  it("should write every other tenant's rows and dead-letter the bad one, its budget left counted", async () => {
    const victim = await aTenant(replica);
    const attacker = await aTenant(replica, { tokensPerMonth: 1_000_000 });
    const deadLetters = replica.moduleRef.get(AiMetrics).ledgerDeadLetters;
    const deadBefore = (await deadLetters.get()).values[0]?.value ?? 0;

    await admitAndFinish(victim.id, 'before');
    await admitAndFinish(attacker.id, 'poisoned', POISONED_MODEL);
    await admitAndFinish(victim.id, 'after');
    await replica.governance.drain();
    await admitAndFinish(victim.id, 'next-batch');
    await replica.governance.drain();

    const victimRows = await query<{ request_id: string }>(replica.database, 'SELECT request_id FROM tollgate_usage_ledger WHERE tenant_id = $1 ORDER BY request_id', [victim.id]);
    expect(victimRows.map((row) => row.request_id)).toEqual(['after', 'before', 'next-batch']);
    const written = await query(replica.database, 'SELECT COUNT(*) AS n FROM tollgate_usage_ledger WHERE tenant_id = $1', [attacker.id]);
    const dead = await query<{ tenant_id: string; row: string }>(replica.database, 'SELECT tenant_id, row FROM tollgate_usage_dead_letters');
    if (replica.database.dialect === 'postgres') {
      expect(Number(written[0].n)).toBe(0);
      expect(dead).toHaveLength(1);
      expect(dead[0].tenant_id).toBe(attacker.id);
      expect(JSON.parse(dead[0].row)).toMatchObject({ requestId: 'poisoned', modelServed: POISONED_MODEL });
      expect((await deadLetters.get()).values[0].value).toBe(deadBefore + 1);
      // The reservation is gone, its estimate (10 completion tokens and the prompt) left in the counters: an upper bound.
      expect((await replica.quota.usage(attacker.id, replica.clock.now())).tokensThisMonth).toBeGreaterThanOrEqual(10);
    } else {
      expect(Number(written[0].n)).toBe(1);
      expect(dead).toHaveLength(0);
    }
    expect(await query(replica.database, 'SELECT id FROM tollgate_reservations')).toEqual([]);
  });
});
