import { UpstreamBadRequestError } from '../../src/errors/ai-errors';
import { UsageLedger } from '../../src/tenancy/usage-ledger';
import { UsageService } from '../../src/tenancy/usage.service';
import { aChatCompletion, aChatRequest, anApiError } from '../factories';
import { fail, respond } from '../fake-upstream-client';
import { aTenant, query, Replica, startReplica } from './replica';
import { describeEachDatabase } from './services';

const DAY_MS = 86_400_000;
/** 2023-11-14T22:13:20Z, the fake clock's start: the second day of calls is 2023-11-15, in the same month. */
const START = 1_700_000_000_000;
const MODELS = {
  'gpt-4o': { inputPerMillionUsd: 2.5, outputPerMillionUsd: 10 },
  'gpt-4o-mini': { inputPerMillionUsd: 0.15, outputPerMillionUsd: 0.6 },
};

const usage = (prompt: number, completion: number) => ({ prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion });

interface LedgerTotals {
  rows: number;
  tokens: number;
  cost: number;
}

async function ledgerTotals(replica: Replica, tenantId: string): Promise<LedgerTotals> {
  const [row] = await query<Record<keyof LedgerTotals, string | number | null>>(
    replica.database,
    'SELECT COUNT(*) AS rows, SUM(prompt_tokens + completion_tokens) AS tokens, SUM(cost_micro_usd) AS cost FROM tollgate_usage_ledger WHERE tenant_id = $1',
    [tenantId],
  );
  return { rows: Number(row.rows), tokens: Number(row.tokens), cost: Number(row.cost) };
}

describeEachDatabase(`${UsageLedger.name} and ${UsageService.name}`, (databases) => {
  let url: string;
  let replica: Replica;
  let tenantId: string;

  beforeAll(async () => {
    url = await databases.fresh();
  });

  afterEach(() => replica.close());

  /**
   * Four calls over two UTC days: gpt-4o (10+5 tokens, 75 µ$) and gpt-4o-mini (20+8, 8 µ$) on the
   * first; gpt-4o (30+12, 195 µ$) and a gpt-4o call the upstream refused on the second.
   */
  beforeEach(async () => {
    replica = await startReplica({ database: { url }, models: MODELS });
    ({ id: tenantId } = await aTenant(replica, { tokensPerMonth: 1_000_000 }));
    const { ai, upstream, clock } = replica;
    const context = { tenantId, keyId: 'key-1' };

    upstream.script('gpt-4o', respond(aChatCompletion({ usage: usage(10, 5) })));
    await ai.chat(aChatRequest({ model: 'gpt-4o', max_tokens: 100 }), { ...context, requestId: 'day1-4o' });
    upstream.script('gpt-4o-mini', respond(aChatCompletion({ model: 'gpt-4o-mini', usage: usage(20, 8) })));
    await ai.chat(aChatRequest({ model: 'gpt-4o-mini', max_tokens: 100 }), { ...context, requestId: 'day1-mini' });
    await replica.governance.drain();
    clock.advance(DAY_MS);
    upstream.script('gpt-4o', respond(aChatCompletion({ usage: usage(30, 12) })));
    await ai.chat(aChatRequest({ model: 'gpt-4o', max_tokens: 100 }), { ...context, requestId: 'day2-4o' });
    upstream.script('gpt-4o', fail(anApiError(400, { message: 'Bad request.' })));
    await expect(ai.chat(aChatRequest({ model: 'gpt-4o', max_tokens: 100 }), { ...context, requestId: 'day2-bad' })).rejects.toBeInstanceOf(
      UpstreamBadRequestError,
    );
    await replica.governance.drain();
  });

  it('should sum usage by UTC day', async () => {
    const groups = await replica.usage.summarize(tenantId, { from: START - DAY_MS, to: START + 2 * DAY_MS, groupBy: 'day' });

    expect(groups).toEqual([
      { key: '2023-11-14', requests: 2, promptTokens: 30, completionTokens: 13, cachedTokens: 0, reasoningTokens: 0, costUsd: expect.closeTo(0.000083, 12), failures: 0 },
      { key: '2023-11-15', requests: 2, promptTokens: 30, completionTokens: 12, cachedTokens: 0, reasoningTokens: 0, costUsd: expect.closeTo(0.000195, 12), failures: 1 },
    ]);
  });

  it('should sum usage by model, a call nothing answered counting under the model asked for', async () => {
    const groups = await replica.usage.summarize(tenantId, { from: START, to: START + 2 * DAY_MS, groupBy: 'model' });

    expect(groups).toEqual([
      { key: 'gpt-4o', requests: 3, promptTokens: 40, completionTokens: 17, cachedTokens: 0, reasoningTokens: 0, costUsd: expect.closeTo(0.00027, 12), failures: 1 },
      { key: 'gpt-4o-mini', requests: 1, promptTokens: 20, completionTokens: 8, cachedTokens: 0, reasoningTokens: 0, costUsd: expect.closeTo(0.000008, 12), failures: 0 },
    ]);
  });

  it('should count only the calls in [from, to)', async () => {
    const secondDay = Date.UTC(2023, 10, 15);

    const fromSecondDay = await replica.usage.summarize(tenantId, { from: secondDay, to: START + 2 * DAY_MS, groupBy: 'day' });
    const untilTheLastCall = await replica.usage.summarize(tenantId, { from: START, to: START + DAY_MS, groupBy: 'model' });
    const otherTenant = await replica.usage.summarize('it-nobody', { from: START, to: START + 2 * DAY_MS, groupBy: 'day' });

    expect(fromSecondDay.map((group) => group.key)).toEqual(['2023-11-15']);
    expect(untilTheLastCall.map((group) => [group.key, group.requests])).toEqual([
      ['gpt-4o', 1],
      ['gpt-4o-mini', 1],
    ]);
    expect(otherTenant).toEqual([]);
  });

  it('should write one ledger row per call, whose totals equal the quota counters', async () => {
    const quota = await replica.quota.usage(tenantId, replica.clock.now());

    const totals = await ledgerTotals(replica, tenantId);

    expect(totals).toEqual({ rows: 4, tokens: 85, cost: 278 });
    expect(quota.tokensThisMonth).toBe(totals.tokens);
    expect(quota.costThisMonthMicroUsd).toBe(totals.cost);
  });

  it('should record who called, what was served, how it ended and how long it took', async () => {
    const rows = await query<Record<string, unknown>>(
      replica.database,
      'SELECT request_id, key_id, model_requested, model_served, outcome, attempts, stream, latency_ms, created_at FROM tollgate_usage_ledger WHERE tenant_id = $1 ORDER BY request_id',
      [tenantId],
    );

    expect(rows.map((row) => ({ ...row, stream: Boolean(row.stream), attempts: Number(row.attempts), created_at: Number(row.created_at) }))).toEqual([
      { request_id: 'day1-4o', key_id: 'key-1', model_requested: 'gpt-4o', model_served: 'gpt-4o', outcome: 'success', attempts: 1, stream: false, latency_ms: 0, created_at: START },
      { request_id: 'day1-mini', key_id: 'key-1', model_requested: 'gpt-4o-mini', model_served: 'gpt-4o-mini', outcome: 'success', attempts: 1, stream: false, latency_ms: 0, created_at: START },
      { request_id: 'day2-4o', key_id: 'key-1', model_requested: 'gpt-4o', model_served: 'gpt-4o', outcome: 'success', attempts: 1, stream: false, latency_ms: 0, created_at: START + DAY_MS },
      { request_id: 'day2-bad', key_id: 'key-1', model_requested: 'gpt-4o', model_served: null, outcome: 'upstream_bad_request', attempts: 1, stream: false, latency_ms: 0, created_at: START + DAY_MS },
    ]);
  });

  it('should settle and record a call admitted and finished through Governance, served by a fallback', async () => {
    const admission = await replica.governance.admit(aChatRequest({ model: 'gpt-4o', max_tokens: 50 }), {
      tenantId,
      requestId: 'direct',
      stream: true,
    });
    replica.clock.advance(1_234);

    admission.finish({ outcome: 'success', attempts: 2, modelServed: 'gpt-4o-mini', usage: { promptTokens: 100, completionTokens: 50 } });
    admission.finish({ outcome: 'success', attempts: 9, usage: { promptTokens: 1_000, completionTokens: 1_000 } });
    await replica.governance.drain();

    const [row] = await query<Record<string, unknown>>(replica.database, 'SELECT * FROM tollgate_usage_ledger WHERE request_id = $1', ['direct']);
    expect(row).toMatchObject({ model_served: 'gpt-4o-mini', prompt_tokens: 100, completion_tokens: 50, attempts: 2, latency_ms: 1_234 });
    expect(Boolean(row.stream)).toBe(true);
    // gpt-4o-mini's prices: ⌈100 × 0.15 + 50 × 0.6⌉ = 45 µ$.
    expect(Number(row.cost_micro_usd)).toBe(45);
    const totals = await ledgerTotals(replica, tenantId);
    expect(totals).toEqual({ rows: 5, tokens: 235, cost: 323 });
    expect(await replica.quota.usage(tenantId, replica.clock.now())).toMatchObject({ tokensThisMonth: 235, costThisMonthMicroUsd: 323 });
  });

  // The ledger's latency is the call's, up to finish(), not the settlement's round trips.
  it('should record the latency of the call, up to finish(), not of its settlement', async () => {
    const admission = await replica.governance.admit(aChatRequest({ max_tokens: 10 }), { tenantId, requestId: 'timed', stream: false });
    replica.clock.advance(250);

    admission.finish({ outcome: 'success', attempts: 1, modelServed: 'gpt-4o', usage: { promptTokens: 1, completionTokens: 1 } });
    replica.clock.advance(60_000);
    await replica.governance.drain();

    const [row] = await query<{ latency_ms: number }>(replica.database, 'SELECT latency_ms FROM tollgate_usage_ledger WHERE request_id = $1', ['timed']);
    expect(row.latency_ms).toBe(250);
  });

  it('should write buffered rows out when the module shuts down', async () => {
    replica.upstream.script('gpt-4o', respond(aChatCompletion({ usage: usage(1, 1) })));
    await replica.ai.chat(aChatRequest({ model: 'gpt-4o', max_tokens: 10 }), { tenantId, requestId: 'last' });

    await replica.close();
    replica = await startReplica({ database: { url }, models: MODELS });

    expect((await ledgerTotals(replica, tenantId)).rows).toBe(5);
  });
});
