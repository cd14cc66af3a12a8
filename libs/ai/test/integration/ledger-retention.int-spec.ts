import { randomUUID } from 'node:crypto';
import { LedgerRetentionOptions } from '../../src/ai-module-options';
import { LEDGER_RETENTION_OPTIONS } from '../../src/ai-option-slices';
import { MeteredCall } from '../../src/chat/admissions';
import { Database } from '../../src/persistence/database';
import { migrationsFor } from '../../src/persistence/migrations';
import { Endpoint } from '../../src/telemetry/call-events';
import { LedgerRetention } from '../../src/tenancy/ledger-retention';
import { UsageDetailPrunedError } from '../../src/tenancy/usage-range';
import { UsageRepository } from '../../src/tenancy/usage.repository';
import { UsageQuery } from '../../src/tenancy/usage.service';
import { FakeClock } from '../fake-clock';
import { aTenant, query, Replica, ReplicaOptions, startReplica } from './replica';
import { describeEachDatabase } from './services';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
/** Thursday 2026-01-01T00:00:00Z: day n of the calls starts at DAY0 + n days. */
const DAY0 = Date.UTC(2026, 0, 1);
const day = (n: number, hours = 0) => DAY0 + n * DAY_MS + hours * HOUR_MS;
const SETTLE_MARGIN_MS = HOUR_MS;
const RETENTION_DAYS = 10;

interface CallShape {
  model?: string;
  endpoint?: Endpoint;
  keyId?: string;
  outcome?: string;
  promptTokens?: number;
  completionTokens?: number;
  cachedTokens?: number;
}

/**
 * Over days 0 to 2: two models, two keys and none, two endpoints, a failure and cached tokens, at the first and the
 * last millisecond of a day too, so that every dimension of the roll-ups and every sum of the reports has a say.
 */
const CALLS: Array<[at: number, CallShape]> = [
  [day(0), { model: 'gpt-4o', keyId: 'key-a', promptTokens: 100, completionTokens: 40 }],
  [day(0, 9), { model: 'gpt-4o-mini', keyId: 'key-b', promptTokens: 300, completionTokens: 10, cachedTokens: 200 }],
  [day(0, 9), { model: 'gpt-4o-mini', keyId: 'key-b', outcome: 'upstream_timeout', promptTokens: 50, completionTokens: 0 }],
  [day(1) - 1, { model: 'gpt-4o', promptTokens: 20, completionTokens: 20 }],
  [day(1, 12), { model: 'text-embedding-3-small', endpoint: 'embeddings', keyId: 'key-a', promptTokens: 500, completionTokens: 0 }],
  [day(1, 18), { model: 'gpt-4o', keyId: 'key-a', promptTokens: 70, completionTokens: 30 }],
  [day(2, 3), { model: 'gpt-4o-mini', keyId: 'key-a', promptTokens: 10, completionTokens: 5 }],
];

const aMeteredCall = (shape: CallShape): MeteredCall => ({
  endpoint: shape.endpoint ?? 'chat.completions',
  model: shape.model ?? 'gpt-4o-mini',
  promptTokens: shape.promptTokens ?? 10,
  mediaParts: [],
  completionLimit: 100,
  choices: 1,
  content: { input: 'Hi' },
});

/** Moves the shared clock forward to `at`: calls are made in the order of time. */
function moveTo(clock: FakeClock, at: number): void {
  if (at < clock.now()) throw new Error(`the clock cannot go back from ${new Date(clock.now()).toISOString()} to ${new Date(at).toISOString()}`);
  clock.advance(at - clock.now());
}

/** Admits a call of `tenantId` at `at`, returning its end, which settles it (at whatever time the test has moved to). */
async function admitAt(replica: Replica, tenantId: string, at: number, shape: CallShape): Promise<() => Promise<void>> {
  moveTo(replica.clock, at);
  const admission = await replica.governance.admitCall(aMeteredCall(shape), { tenantId, keyId: shape.keyId, requestId: randomUUID(), stream: false });
  return async () => {
    admission.finish({
      outcome: shape.outcome ?? 'success',
      attempts: 1,
      modelServed: shape.outcome === undefined ? (shape.model ?? 'gpt-4o-mini') : undefined,
      usage: { promptTokens: shape.promptTokens ?? 10, completionTokens: shape.completionTokens ?? 0, cachedTokens: shape.cachedTokens ?? 0 },
    });
    await replica.governance.drain();
  };
}

async function callAt(replica: Replica, tenantId: string, at: number, shape: CallShape): Promise<void> {
  await (await admitAt(replica, tenantId, at, shape))();
}

async function makeCalls(replica: Replica, tenantId: string): Promise<void> {
  for (const [at, shape] of CALLS) await callAt(replica, tenantId, at, shape);
}

/** The ledger's rows of a tenant, by UTC day (day n as n). */
async function rowsByDay(replica: Replica, tenantId: string): Promise<Record<number, number>> {
  const rows = await query<{ created_at: string | number }>(replica.database, 'SELECT created_at FROM tollgate_usage_ledger WHERE tenant_id = $1', [tenantId]);
  const byDay: Record<number, number> = {};
  for (const row of rows) {
    const n = Math.floor((Number(row.created_at) - DAY0) / DAY_MS);
    byDay[n] = (byDay[n] ?? 0) + 1;
  }
  return byDay;
}

/** A tenant's roll-ups as stored, in one order. */
async function rollups(replica: Replica, tenantId?: string): Promise<Array<Record<string, unknown>>> {
  const rows = await query<Record<string, unknown>>(
    replica.database,
    `SELECT tenant_id, day, model, key_id, endpoint, requests, prompt_tokens, completion_tokens, cached_tokens, reasoning_tokens, cost_micro_usd, failures
     FROM tollgate_usage_rollups ${tenantId === undefined ? '' : 'WHERE tenant_id = $1'} ORDER BY tenant_id, day, model, key_id, endpoint`,
    tenantId === undefined ? [] : [tenantId],
  );
  return rows.map((row) => Object.fromEntries(Object.entries(row).map(([column, value]) => [column, typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value])));
}

/** The reports a test compares, by day and by model, over whole days and over edges inside days. */
const REPORTS: Array<Pick<UsageQuery, 'from' | 'to'>> = [
  { from: day(-1), to: day(4) },
  { from: day(0), to: day(2) },
  { from: day(1), to: day(2) },
  { from: day(0, 6), to: day(2, 6) },
  { from: day(1) - 1, to: day(1) + 1 },
];

async function reports(replica: Replica, tenantId: string, periods = REPORTS): Promise<unknown[]> {
  const all = [];
  for (const period of periods) {
    for (const groupBy of ['day', 'model'] as const) all.push(await replica.usage.summarize(tenantId, { ...period, groupBy }));
  }
  return all;
}

/** A second LedgerRetention over the replica's database, as another replica's would be. */
function anotherPassOf(replica: Replica, clock: FakeClock): LedgerRetention {
  return new LedgerRetention(replica.moduleRef.get(UsageRepository), clock, replica.moduleRef.get<LedgerRetentionOptions>(LEDGER_RETENTION_OPTIONS));
}

describeEachDatabase(LedgerRetention.name, (databases) => {
  const started: Replica[] = [];
  let url: string;

  beforeEach(async () => {
    url = await databases.fresh();
  });

  afterEach(async () => {
    await Promise.all(started.splice(0).map((replica) => replica.close()));
  });

  async function aReplica(options: ReplicaOptions = {}): Promise<{ replica: Replica; retention: LedgerRetention }> {
    const replica = await startReplica({
      clock: new FakeClock(DAY0),
      database: { url },
      ...options,
      ledgerRetention: { retentionDays: RETENTION_DAYS, settleMarginMs: SETTLE_MARGIN_MS, pruneBatchSize: 2, ...options.ledgerRetention },
    });
    started.push(replica);
    return { replica, retention: replica.moduleRef.get(LedgerRetention) };
  }

  it('should roll up each closed day, and delete its rows once the retention has passed since it ended, a batch at a time', async () => {
    const { replica, retention } = await aReplica();
    const { id: tenantId } = await aTenant(replica);
    await makeCalls(replica, tenantId);
    const deletions = jest.spyOn(replica.moduleRef.get(UsageRepository), 'deleteRows');

    moveTo(replica.clock, day(3, 2));
    const rolled = await retention.run();
    const rowsRolledUp = await rowsByDay(replica, tenantId);
    // Day 0 ended at day(1): RETENTION_DAYS whole days have passed since when day(RETENTION_DAYS + 1) begins.
    moveTo(replica.clock, day(RETENTION_DAYS + 1) - 1);
    const notYet = await retention.run();
    moveTo(replica.clock, day(RETENTION_DAYS + 1));
    const pruned = await retention.run();

    expect(rolled).toEqual({ daysRolledUp: 3, rowsPruned: 0, rollupsPruned: 0 });
    expect(rowsRolledUp).toEqual({ 0: 4, 1: 2, 2: 1 });
    expect(notYet).toEqual({ daysRolledUp: 0, rowsPruned: 0, rollupsPruned: 0 });
    expect(pruned).toEqual({ daysRolledUp: 0, rowsPruned: 4, rollupsPruned: 0 });
    expect(await rowsByDay(replica, tenantId)).toEqual({ 1: 2, 2: 1 });
    // pruneBatchSize is 2: the four rows went in two statements of two.
    const deleted = await Promise.all(deletions.mock.results.map((result) => result.value as Promise<number>));
    expect(deleted.filter((count) => count > 0)).toEqual([2, 2]);
  });

  it('should keep the rows of a day past the retention as long as the day is not rolled up', async () => {
    const { replica, retention } = await aReplica();
    const { id: tenantId } = await aTenant(replica);
    await callAt(replica, tenantId, day(0, 1), {});
    // Admitted on day 1 and never settled (its replica still running it, or dead and not yet swept).
    const settleLate = await admitAt(replica, tenantId, day(1, 1), {});
    await callAt(replica, tenantId, day(2, 1), {});

    moveTo(replica.clock, day(RETENTION_DAYS + 5));
    const pass = await retention.run();
    const rowsLeft = await rowsByDay(replica, tenantId);
    const daysRolledUp = (await rollups(replica, tenantId)).map((rollup) => rollup.day);
    await settleLate();
    const settled = await retention.run();

    expect(pass).toEqual({ daysRolledUp: 1, rowsPruned: 1, rollupsPruned: 0 });
    // Day 2 is past the retention too, but after the day that is still open: its rows wait with it.
    expect(rowsLeft).toEqual({ 2: 1 });
    expect(daysRolledUp).toEqual(['2026-01-01']);
    expect(settled).toEqual({ daysRolledUp: 2, rowsPruned: 2, rollupsPruned: 0 });
    expect((await rollups(replica, tenantId)).map((rollup) => [rollup.day, rollup.requests])).toEqual([
      ['2026-01-01', 1],
      ['2026-01-02', 1],
      ['2026-01-03', 1],
    ]);
  });

  it('should answer the same reports, by day and by model, before and after the roll-up and the pruning', async () => {
    const { replica, retention } = await aReplica();
    const { id: tenantId } = await aTenant(replica);
    await makeCalls(replica, tenantId);
    const fromRows = await reports(replica, tenantId);

    moveTo(replica.clock, day(3, 2));
    await retention.run();
    const fromRollups = await reports(replica, tenantId);
    await query(replica.database, 'DELETE FROM tollgate_usage_ledger WHERE tenant_id = $1 AND created_at < $2', [tenantId, day(2)]);
    const fromRollupsOnly = await reports(replica, tenantId, REPORTS.slice(0, 3));

    expect(fromRows[0]).toEqual([
      { key: '2026-01-01', requests: 4, promptTokens: 470, completionTokens: 70, cachedTokens: 200, reasoningTokens: 0, costUsd: expect.any(Number), failures: 1 },
      { key: '2026-01-02', requests: 2, promptTokens: 570, completionTokens: 30, cachedTokens: 0, reasoningTokens: 0, costUsd: expect.any(Number), failures: 0 },
      { key: '2026-01-03', requests: 1, promptTokens: 10, completionTokens: 5, cachedTokens: 0, reasoningTokens: 0, costUsd: expect.any(Number), failures: 0 },
    ]);
    expect(fromRollups).toEqual(fromRows);
    // With the rows of the rolled-up days gone, the whole days are what the roll-ups say.
    expect(fromRollupsOnly).toEqual(fromRows.slice(0, 6));
  });

  it('should answer the same reports once the rows past the retention are deleted, and refuse an edge inside a deleted day', async () => {
    const { replica, retention } = await aReplica();
    const { id: tenantId } = await aTenant(replica);
    await makeCalls(replica, tenantId);
    const wholeDays = REPORTS.slice(0, 3);
    const before = await reports(replica, tenantId, wholeDays);

    moveTo(replica.clock, day(RETENTION_DAYS + 3, 1));
    await retention.run();
    const rowsLeft = await rowsByDay(replica, tenantId);
    const after = await reports(replica, tenantId, wholeDays);
    const insideDay0 = replica.usage.summarize(tenantId, { from: day(0, 6), to: day(3), groupBy: 'day' });
    const insideDay1 = replica.usage.summarize(tenantId, { from: day(0), to: day(1, 6), groupBy: 'model' });

    expect(rowsLeft).toEqual({});
    expect(after).toEqual(before);
    await expect(insideDay0).rejects.toThrow(UsageDetailPrunedError);
    await expect(insideDay0).rejects.toMatchObject({ edge: 'from', rowsKeptFrom: day(3) });
    await expect(insideDay1).rejects.toMatchObject({ edge: 'to', rowsKeptFrom: day(3) });
    // An edge inside a day whose rows are kept reads them.
    expect(await replica.usage.summarize(tenantId, { from: day(0), to: day(RETENTION_DAYS + 3, 1), groupBy: 'day' })).toEqual(before[0]);
  });

  it('should roll up a day only once the margin is over and its late calls are settled, their rows included', async () => {
    const { replica, retention } = await aReplica();
    const [{ id: settlesInMargin }, { id: settlesAfter }] = [await aTenant(replica), await aTenant(replica)];
    for (const tenantId of [settlesInMargin, settlesAfter]) await callAt(replica, tenantId, day(0, 12), { promptTokens: 1 });
    const settleInMargin = await admitAt(replica, settlesInMargin, day(1) - 1_000, { promptTokens: 20 });
    const settleAfter = await admitAt(replica, settlesAfter, day(1) - 500, { promptTokens: 300 });

    // Settled just after midnight, within the margin.
    moveTo(replica.clock, day(1) + SETTLE_MARGIN_MS / 2);
    await settleInMargin();
    const withinMargin = await retention.run();
    moveTo(replica.clock, day(1) + SETTLE_MARGIN_MS);
    const afterMargin = await retention.run();
    const rolledAfterMargin = await rollups(replica);
    // Settled hours later: a long stream, or an abandoned call billed by the sweep.
    moveTo(replica.clock, day(1, 5));
    await settleAfter();
    const settled = await retention.run();

    expect(withinMargin.daysRolledUp).toBe(0);
    expect(afterMargin.daysRolledUp).toBe(1);
    expect(rolledAfterMargin).toEqual([expect.objectContaining({ tenant_id: settlesInMargin, day: '2026-01-01', requests: 2, prompt_tokens: 21 })]);
    expect(settled.daysRolledUp).toBe(1);
    expect(await rollups(replica, settlesAfter)).toEqual([expect.objectContaining({ day: '2026-01-01', requests: 2, prompt_tokens: 301 })]);
  });

  it('should sum a rolled-up day afresh before deleting its rows when a row came after its roll-up (a clock off by hours)', async () => {
    const { replica, retention } = await aReplica();
    const { id: tenantId } = await aTenant(replica);
    await makeCalls(replica, tenantId);
    moveTo(replica.clock, day(3, 2));
    await retention.run();
    // Written now for day 0, long rolled up: what a replica whose clock is two days behind would write.
    await query(
      replica.database,
      `INSERT INTO tollgate_usage_ledger (id, request_id, tenant_id, key_id, endpoint, model_requested, model_served, prompt_tokens, completion_tokens,
         cached_tokens, reasoning_tokens, cost_micro_usd, attempts, outcome, stream, latency_ms, created_at)
       VALUES ($1, $2, $3, NULL, 'chat.completions', 'gpt-4o', 'gpt-4o', 1000, 0, 0, 0, 2500, 1, 'success', $4, 5, $5)`,
      [randomUUID(), randomUUID(), tenantId, databases.dialect === 'postgres' ? false : 0, day(0, 5)],
    );
    const dayZero = async () => ((await reports(replica, tenantId, REPORTS.slice(0, 1)))[0] as Array<{ key: string }>).find((sums) => sums.key === '2026-01-01');
    // Until then a report reads the rolled-up day from its roll-ups.
    const beforePass = await dayZero();

    moveTo(replica.clock, day(RETENTION_DAYS + 3, 1));
    const pass = await retention.run();

    expect(pass).toMatchObject({ daysRolledUp: 1, rowsPruned: CALLS.length + 1 });
    expect(await rowsByDay(replica, tenantId)).toEqual({});
    expect(beforePass).toMatchObject({ requests: 4, promptTokens: 470 });
    expect(await dayZero()).toMatchObject({ requests: 5, promptTokens: 1470, costUsd: 0.003444 });
  });

  it('should change nothing when it rolls up again, or sums a rolled-up day afresh', async () => {
    const { replica, retention } = await aReplica();
    const { id: tenantId } = await aTenant(replica);
    await makeCalls(replica, tenantId);
    moveTo(replica.clock, day(3, 2));
    await retention.run();
    const once = await rollups(replica, tenantId);

    const again = await retention.run();
    const unchanged = await rollups(replica, tenantId);
    // As if a replica had lost its progress: every day is summed again from its rows.
    await query(replica.database, 'UPDATE tollgate_usage_rollup_progress SET rolled_until = 0 WHERE tenant_id = $1', [tenantId]);
    const afresh = await retention.run();

    expect(once.map((rollup) => [rollup.day, rollup.model, rollup.key_id, rollup.endpoint, rollup.requests, rollup.failures])).toEqual([
      ['2026-01-01', 'gpt-4o', '', 'chat.completions', 1, 0],
      ['2026-01-01', 'gpt-4o', 'key-a', 'chat.completions', 1, 0],
      ['2026-01-01', 'gpt-4o-mini', 'key-b', 'chat.completions', 2, 1],
      ['2026-01-02', 'gpt-4o', 'key-a', 'chat.completions', 1, 0],
      ['2026-01-02', 'text-embedding-3-small', 'key-a', 'embeddings', 1, 0],
      ['2026-01-03', 'gpt-4o-mini', 'key-a', 'chat.completions', 1, 0],
    ]);
    expect(again.daysRolledUp).toBe(0);
    expect(unchanged).toEqual(once);
    expect(afresh.daysRolledUp).toBe(3);
    expect(await rollups(replica, tenantId)).toEqual(once);
  });

  /**
   * On PostgreSQL, two replicas; SQLite is one process's (a second process's busy wait would block this one's event
   * loop), so there two passes of one replica, whose transactions its one connection takes in turns.
   */
  it('should roll up every tenant-day once when two replicas run at the same time', async () => {
    const clock = new FakeClock(DAY0);
    const first = await aReplica({ clock });
    const second = databases.dialect === 'postgres' ? await aReplica({ clock }) : { replica: first.replica, retention: anotherPassOf(first.replica, clock) };
    const repositories = new Set([first, second].map(({ replica }) => replica.moduleRef.get(UsageRepository)));
    const attempts = [...repositories].map((repository) => jest.spyOn(repository, 'rollUp'));
    const tenants: string[] = [];
    for (let n = 0; n < 4; n++) tenants.push((await aTenant(first.replica)).id);
    const calls = CALLS.map(([at, shape], n) => [at, tenants[n % tenants.length], shape] as const);
    for (const [at, tenantId, shape] of calls) await callAt(first.replica, tenantId, at, shape);
    const tenantDays = new Set(calls.map(([at, tenantId]) => `${tenantId}/${Math.floor(at / DAY_MS)}`)).size;
    const before = await Promise.all(tenants.map((tenantId) => reports(first.replica, tenantId)));

    moveTo(clock, day(RETENTION_DAYS + 3));
    const passes = await Promise.all([first.retention.run(), second.retention.run()]);
    const again = await Promise.all([first.retention.run(), second.retention.run()]);

    expect(passes[0].daysRolledUp + passes[1].daysRolledUp).toBe(tenantDays);
    const outcomes = await Promise.all(attempts.flatMap((attempt) => attempt.mock.results.map((result) => result.value as Promise<boolean>)));
    // They did meet: some tenant-day's progress was moved by one while the other tried it too, and that one wrote nothing.
    expect(outcomes).toContain(false);
    expect(passes[0].rowsPruned + passes[1].rowsPruned).toBe(CALLS.length);
    expect(again).toEqual([
      { daysRolledUp: 0, rowsPruned: 0, rollupsPruned: 0 },
      { daysRolledUp: 0, rowsPruned: 0, rollupsPruned: 0 },
    ]);
    const requests = (await rollups(first.replica)).reduce((sum, rollup) => sum + Number(rollup.requests), 0);
    expect(requests).toBe(CALLS.length);
    const wholeDays = REPORTS.slice(0, 3);
    expect(await Promise.all(tenants.map((tenantId) => reports(second.replica, tenantId, wholeDays)))).toEqual(before.map((all) => all.slice(0, 6)));
  });

  it('should delete the roll-ups past their own retention, and keep them forever without one', async () => {
    const { replica, retention } = await aReplica({ ledgerRetention: { retentionDays: 2, rollupRetentionDays: 3 } });
    const { id: tenantId } = await aTenant(replica);
    await makeCalls(replica, tenantId);
    moveTo(replica.clock, day(3, 2));
    await retention.run();
    const rolled = await rollups(replica, tenantId);

    // Today is day 4: three whole days (1 to 3) have passed since day 0 ended, two since day 1 did.
    moveTo(replica.clock, day(4, 2));
    const pass = await retention.run();
    const left = await rollups(replica, tenantId);
    const report = await replica.usage.summarize(tenantId, { from: day(0), to: day(4), groupBy: 'day' });

    expect(pass.rollupsPruned).toBe(rolled.filter((rollup) => rollup.day === '2026-01-01').length);
    expect(pass.rollupsPruned).toBeGreaterThan(0);
    expect([...new Set(left.map((rollup) => rollup.day))]).toEqual(['2026-01-02', '2026-01-03']);
    expect(report.map((group) => group.key)).toEqual(['2026-01-02', '2026-01-03']);
  });

  it('should roll up and delete in tables named with another prefix', async () => {
    const { replica, retention } = await aReplica({ database: { url, tablePrefix: 'ai_' }, ledgerRetention: { retentionDays: 1, rollupRetentionDays: 2 } });
    const { id: tenantId } = await aTenant(replica);
    await makeCalls(replica, tenantId);
    const before = await reports(replica, tenantId, REPORTS.slice(2, 3));

    moveTo(replica.clock, day(3, 2));
    const rolled = await retention.run();
    const after = await reports(replica, tenantId, REPORTS.slice(2, 3));
    moveTo(replica.clock, day(4, 2));
    const expired = await retention.run();

    expect(rolled).toEqual({ daysRolledUp: 3, rowsPruned: 6, rollupsPruned: 3 });
    expect(after).toEqual(before);
    expect(expired).toEqual({ daysRolledUp: 0, rowsPruned: 1, rollupsPruned: 2 });
    expect(await query(replica.database, 'SELECT day FROM ai_usage_rollups')).toEqual([{ day: '2026-01-03' }]);
  });

  it('should roll up the rows a database held before its migration', async () => {
    const earlier = new Database({ url, migrate: true, tablePrefix: 'tollgate_' }, { entities: [], migrations: (table) => migrationsFor(table).slice(0, -1) });
    await earlier.open(true);
    await query(earlier, "INSERT INTO tollgate_tenants (id, name, plan, status, limit_overrides, created_at, updated_at) VALUES ('before', 'Before', 'default', 'active', '{}', 0, 0)");
    await query(
      earlier,
      `INSERT INTO tollgate_usage_ledger (id, request_id, tenant_id, key_id, endpoint, model_requested, model_served, prompt_tokens, completion_tokens,
         cached_tokens, reasoning_tokens, cost_micro_usd, attempts, outcome, stream, latency_ms, created_at)
       VALUES ($1, 'old', 'before', NULL, 'chat.completions', 'gpt-4o', 'gpt-4o', 10, 5, 0, 0, 75, 1, 'success', $2, 3, $3)`,
      [randomUUID(), databases.dialect === 'postgres' ? false : 0, day(0, 8)],
    );
    await earlier.close();
    const { replica, retention } = await aReplica();

    moveTo(replica.clock, day(1, 2));
    const pass = await retention.run();

    expect(pass.daysRolledUp).toBe(1);
    expect(await rollups(replica, 'before')).toEqual([
      {
        tenant_id: 'before',
        day: '2026-01-01',
        model: 'gpt-4o',
        key_id: '',
        endpoint: 'chat.completions',
        requests: 1,
        prompt_tokens: 10,
        completion_tokens: 5,
        cached_tokens: 0,
        reasoning_tokens: 0,
        cost_micro_usd: 75,
        failures: 0,
      },
    ]);
  });

  it('should keep the roll-ups forever by default', async () => {
    const { replica, retention } = await aReplica({ ledgerRetention: { retentionDays: 1 } });
    const { id: tenantId } = await aTenant(replica);
    await makeCalls(replica, tenantId);
    moveTo(replica.clock, day(3, 2));
    await retention.run();
    const rolled = await rollups(replica, tenantId);

    moveTo(replica.clock, day(3_650));
    const pass = await retention.run();

    expect(pass).toEqual({ daysRolledUp: 0, rowsPruned: 1, rollupsPruned: 0 });
    expect(await rollups(replica, tenantId)).toEqual(rolled);
  });
});
