import { randomUUID } from 'node:crypto';
import { MeteredCall } from '../../src/chat/admissions';
import { Database, TableName } from '../../src/persistence/database';
import { migrationsFor } from '../../src/persistence/migrations';
import { ABANDONED_OUTCOME } from '../../src/tenancy/quota.repository';
import { utcPeriods } from '../../src/tenancy/utc-periods';
import { aTenant, query, startReplica } from './replica';
import { describeEachDatabase } from './services';

const RESERVATION_TTL_MS = 60_000;

const aMeteredCall = (overrides: Partial<MeteredCall> = {}): MeteredCall => ({
  endpoint: 'responses',
  model: 'gpt-4o-mini',
  promptTokens: 100,
  mediaParts: [],
  completionLimit: 50,
  choices: 1,
  content: { input: 'Hi' },
  ...overrides,
});

/** The schema as it was before EndpointUsage1769000000000, whichever migrations came after it. */
const migrationsBeforeEndpointUsage = (table: TableName) => {
  const migrations = migrationsFor(table);
  return migrations.slice(0, migrations.findIndex((migration) => migration.name === 'EndpointUsage1769000000000'));
};

describeEachDatabase('The ledger’s endpoint, cached and reasoning tokens', (databases) => {
  it('should give the rows and reservations written before the migration the chat endpoint and no cached or reasoning tokens', async () => {
    const url = await databases.fresh();
    const earlier = new Database({ url, migrate: true, tablePrefix: 'tollgate_' }, { entities: [], migrations: migrationsBeforeEndpointUsage });
    await earlier.open(true);
    const now = Date.now();
    const { day, month } = utcPeriods(now);
    await query(
      earlier,
      `INSERT INTO tollgate_usage_ledger (id, request_id, tenant_id, key_id, model_requested, model_served, prompt_tokens, completion_tokens, cost_micro_usd, attempts, outcome, stream, latency_ms, created_at)
       VALUES ($1, 'old-row', 'old-tenant', NULL, 'gpt-4o', 'gpt-4o', 10, 5, 75, 1, 'success', $2, 3, $3)`,
      [randomUUID(), databases.dialect === 'postgres' ? false : 0, now],
    );
    await query(
      earlier,
      `INSERT INTO tollgate_reservations (id, tenant_id, request_id, day, month, tokens, cost_micro_usd, expires_at, created_at, key_id, model, stream, prompt_tokens)
       VALUES ($1, 'old-tenant', 'old-reservation', $2, $3, 30, 40, $4, $5, NULL, 'gpt-4o', $6, 10)`,
      [randomUUID(), day, month, now, now, databases.dialect === 'postgres' ? false : 0],
    );
    await earlier.close();

    const replica = await startReplica({ database: { url } });
    const billed = await replica.quota.billExpired(now + 1);
    const rows = await query<Record<string, unknown>>(
      replica.database,
      'SELECT request_id, endpoint, cached_tokens, reasoning_tokens, outcome FROM tollgate_usage_ledger ORDER BY request_id',
    );

    expect(billed).toBe(1);
    expect(rows.map((row) => ({ ...row, cached_tokens: Number(row.cached_tokens), reasoning_tokens: Number(row.reasoning_tokens) }))).toEqual([
      { request_id: 'old-reservation', endpoint: 'chat.completions', cached_tokens: 0, reasoning_tokens: 0, outcome: ABANDONED_OUTCOME },
      { request_id: 'old-row', endpoint: 'chat.completions', cached_tokens: 0, reasoning_tokens: 0, outcome: 'success' },
    ]);
    await replica.close();
  });

  it('should write a call’s endpoint and its cached and reasoning tokens, and sum them in the usage report', async () => {
    const replica = await startReplica({ database: { url: await databases.fresh() } });
    const tenant = await aTenant(replica);
    const context = (requestId: string) => ({ tenantId: tenant.id, requestId, stream: false });

    const admitted = await replica.governance.admitCall(aMeteredCall(), context('with-details'));
    admitted.finish({ outcome: 'success', attempts: 1, modelServed: 'gpt-4o-mini', usage: { promptTokens: 1_000, completionTokens: 300, cachedTokens: 800, reasoningTokens: 200 } });
    const embedded = await replica.governance.admitCall(aMeteredCall({ endpoint: 'embeddings', model: 'text-embedding-3-small', completionLimit: 0 }), context('embedded'));
    embedded.finish({ outcome: 'success', attempts: 1, modelServed: 'text-embedding-3-small', usage: { promptTokens: 40, completionTokens: 0 } });
    await replica.governance.drain();

    const rows = await query<Record<string, unknown>>(
      replica.database,
      'SELECT request_id, endpoint, prompt_tokens, completion_tokens, cached_tokens, reasoning_tokens, cost_micro_usd FROM tollgate_usage_ledger WHERE tenant_id = $1 ORDER BY request_id',
      [tenant.id],
    );
    const [report] = await replica.usage.summarize(tenant.id, { from: 0, to: replica.clock.now() + 1, groupBy: 'day' });

    expect(rows.map((row) => Object.fromEntries(Object.entries(row).map(([key, value]) => [key, typeof value === 'string' && key !== 'request_id' && key !== 'endpoint' ? Number(value) : value])))).toEqual([
      { request_id: 'embedded', endpoint: 'embeddings', prompt_tokens: 40, completion_tokens: 0, cached_tokens: 0, reasoning_tokens: 0, cost_micro_usd: 1 },
      // gpt-4o-mini: 200 × 0.15 + 800 × 0.075 + 300 × 0.60
      { request_id: 'with-details', endpoint: 'responses', prompt_tokens: 1_000, completion_tokens: 300, cached_tokens: 800, reasoning_tokens: 200, cost_micro_usd: 270 },
    ]);
    expect(report).toMatchObject({ requests: 2, promptTokens: 1_040, completionTokens: 300, cachedTokens: 800, reasoningTokens: 200 });
    await replica.close();
  });

  it('should bill an abandoned call as reserved, in a row of its own endpoint', async () => {
    const replica = await startReplica({ database: { url: await databases.fresh() }, tenancy: { reservationTtlMs: RESERVATION_TTL_MS } });
    const tenant = await aTenant(replica);

    await replica.governance.admitCall(aMeteredCall({ endpoint: 'embeddings', model: 'text-embedding-3-small', completionLimit: 0 }), {
      tenantId: tenant.id,
      requestId: 'left-running',
      stream: false,
    });
    replica.clock.advance(RESERVATION_TTL_MS + 1);
    const billed = await replica.quota.billExpired(replica.clock.now());

    const rows = await query(replica.database, 'SELECT endpoint, outcome, prompt_tokens FROM tollgate_usage_ledger WHERE tenant_id = $1', [tenant.id]);
    expect(billed).toBe(1);
    expect(rows.map((row) => ({ ...row, prompt_tokens: Number(row.prompt_tokens) }))).toEqual([{ endpoint: 'embeddings', outcome: ABANDONED_OUTCOME, prompt_tokens: 100 }]);
    await replica.close();
  });
});
