import { Database, Governance, LedgerRetention } from '@tollgate/ai/tenancy';
import { randomUUID } from 'node:crypto';
import { validateEnvironment } from '../src/config/environment';
import { loadGatewayConfig } from '../src/config/gateway-config';
import { createGateway } from '../src/create-gateway';
import { AdminClient, adminClient, expectOpenAiError } from './support/admin-client';
import { aUserMessage, GatewayUnderTest, startGatewayWithSimulator, tenantClient } from './support/gateway-harness';

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
const utcDay = (epochMs: number) => new Date(epochMs).toISOString().slice(0, 10);

describe('Ledger retention: configuration', () => {
  it.each([
    ['AI_LEDGER_RETENTION_DAYS', '0', 'AI_LEDGER_RETENTION_DAYS must be a whole number of days, at least 1'],
    ['AI_LEDGER_RETENTION_DAYS', '-7', 'AI_LEDGER_RETENTION_DAYS must be a whole number of days, at least 1'],
    ['AI_LEDGER_RETENTION_DAYS', '1.5', 'AI_LEDGER_RETENTION_DAYS must be a whole number of days, at least 1'],
    ['AI_LEDGER_RETENTION_DAYS', 'a month', 'AI_LEDGER_RETENTION_DAYS must be a whole number of days, at least 1'],
    ['AI_LEDGER_ROLLUP_RETENTION_DAYS', '0', 'AI_LEDGER_ROLLUP_RETENTION_DAYS must be a whole number of days, at least 1 (unset: kept forever)'],
    ['AI_LEDGER_ROLLUP_RETENTION_DAYS', '-1', 'AI_LEDGER_ROLLUP_RETENTION_DAYS must be a whole number of days, at least 1 (unset: kept forever)'],
  ])('should refuse %s=%s, saying what it takes', (variable, value, message) => {
    expect(() => validateEnvironment({ NODE_ENV: 'test', [variable]: value })).toThrow(`Invalid configuration, the gateway cannot start:\n  - ${message}`);
  });

  it('should refuse roll-ups kept for less time than the rows they sum, the default retention counted', () => {
    expect(() => validateEnvironment({ NODE_ENV: 'test', AI_LEDGER_ROLLUP_RETENTION_DAYS: '30' })).toThrow(
      "AI_LEDGER_ROLLUP_RETENTION_DAYS must be at least AI_LEDGER_RETENTION_DAYS (35): a day's roll-ups are what is left of it once its ledger rows are deleted",
    );
    expect(() => validateEnvironment({ NODE_ENV: 'test', AI_LEDGER_RETENTION_DAYS: '60', AI_LEDGER_ROLLUP_RETENTION_DAYS: '59' })).toThrow('(60)');
  });

  it('should hand the library the days it is given, and nothing when unset (35 days, roll-ups kept forever)', () => {
    const given = loadGatewayConfig({ NODE_ENV: 'test', AI_LEDGER_RETENTION_DAYS: '7', AI_LEDGER_ROLLUP_RETENTION_DAYS: '7' });
    const unset = loadGatewayConfig({ NODE_ENV: 'test', AI_LEDGER_RETENTION_DAYS: '', AI_LEDGER_ROLLUP_RETENTION_DAYS: '' });

    expect(given.policies.ledgerRetention).toEqual({ retentionDays: 7, rollupRetentionDays: 7 });
    expect(unset.policies.ledgerRetention).toEqual({ retentionDays: undefined, rollupRetentionDays: undefined });
  });

  it('should not start the gateway on a retention of no days', async () => {
    await expect(createGateway({ NODE_ENV: 'test', OPENAI_API_KEY: 'sk-config-test', AI_LEDGER_RETENTION_DAYS: '0' }, { log: false })).rejects.toThrow(
      /^Invalid configuration[\s\S]*AI_LEDGER_RETENTION_DAYS/,
    );
  });
});

/**
 * The gateway keeps the ledger 50 days (AI_LEDGER_RETENTION_DAYS): rows of 60 days ago are rolled up and deleted, rows
 * of 40 days ago rolled up and kept, today's left as they are. The reports say the same before and after.
 */
describe('Ledger retention: GET /admin/tenants/:id/usage', () => {
  let gateway: GatewayUnderTest;
  let admin: AdminClient;
  let tenantId: string;
  const today = Math.floor(Date.now() / DAY_MS) * DAY_MS;
  const [sixtyDaysAgo, fortyDaysAgo] = [today - 60 * DAY_MS, today - 40 * DAY_MS];

  async function ledgerRow(createdAt: number, model: string, promptTokens: number, outcome = 'success'): Promise<void> {
    await gateway.app
      .get(Database)
      .manager.query(
        `INSERT INTO tollgate_usage_ledger (id, request_id, tenant_id, key_id, endpoint, model_requested, model_served, prompt_tokens, completion_tokens,
           cached_tokens, reasoning_tokens, cost_micro_usd, attempts, outcome, stream, latency_ms, created_at)
         VALUES (?, ?, ?, NULL, 'chat.completions', ?, ?, ?, 7, 0, 0, ?, 1, ?, 0, 120, ?)`,
        [randomUUID(), randomUUID(), tenantId, model, outcome === 'success' ? model : null, promptTokens, promptTokens * 3, outcome, createdAt],
      );
  }

  async function ledgerRows(): Promise<number> {
    const [row] = await gateway.app.get(Database).manager.query('SELECT COUNT(*) AS count FROM tollgate_usage_ledger WHERE tenant_id = ?', [tenantId]);
    return Number(row.count);
  }

  const REPORTS = [
    `from=${utcDay(sixtyDaysAgo)}&to=${utcDay(today)}`,
    `from=${utcDay(sixtyDaysAgo)}&to=${utcDay(today)}&groupBy=model`,
    `from=${utcDay(fortyDaysAgo)}&to=${utcDay(fortyDaysAgo)}&groupBy=model`,
    `from=${new Date(fortyDaysAgo + 6 * HOUR_MS).toISOString()}&to=${new Date(today + DAY_MS).toISOString()}`,
  ];
  const reports = () => Promise.all(REPORTS.map(async (query) => (await admin.get(`/admin/tenants/${tenantId}/usage?${query}`)).body));

  beforeAll(async () => {
    gateway = await startGatewayWithSimulator({ AI_LEDGER_RETENTION_DAYS: '50' });
    admin = adminClient(gateway.url);
    tenantId = `retention-${randomUUID().slice(0, 8)}`;
    await admin.post('/admin/tenants', { id: tenantId, name: 'Retention' });
    const { body } = await admin.post(`/admin/tenants/${tenantId}/keys`, {});
    await tenantClient(gateway.url, { apiKey: body.key }).chat.completions.create({ model: 'gpt-4o-mini', messages: aUserMessage() });
    await gateway.app.get(Governance).drain();
    await ledgerRow(sixtyDaysAgo + HOUR_MS, 'gpt-4o', 100);
    await ledgerRow(sixtyDaysAgo + 13 * HOUR_MS, 'gpt-4o-mini', 40, 'upstream_timeout');
    await ledgerRow(fortyDaysAgo + 3 * HOUR_MS, 'gpt-4o-mini', 20);
    await ledgerRow(fortyDaysAgo + 9 * HOUR_MS, 'gpt-4o', 10);
  });
  afterAll(() => gateway.close());

  it('should answer the same reports from the roll-ups once the rows past the retention are deleted', async () => {
    const before = await reports();

    const pass = await gateway.app.get(LedgerRetention).run();
    const after = await reports();

    expect(before[0].data.map((group: { key: string; requests: number }) => [group.key, group.requests])).toEqual([
      [utcDay(sixtyDaysAgo), 2],
      [utcDay(fortyDaysAgo), 2],
      [utcDay(today), 1],
    ]);
    expect(pass).toMatchObject({ daysRolledUp: 2, rowsPruned: 2 });
    expect(await ledgerRows()).toBe(3);
    expect(after).toEqual(before);
  });

  it('should refuse with 400 a period that starts inside a day whose rows are deleted, and take its date', async () => {
    await gateway.app.get(LedgerRetention).run();
    const inside = new Date(sixtyDaysAgo + 6 * HOUR_MS).toISOString();
    const keptFrom = new Date(today - 50 * DAY_MS).toISOString();

    const refused = await admin.get(`/admin/tenants/${tenantId}/usage?from=${inside}`);
    const wholeDay = await admin.get(`/admin/tenants/${tenantId}/usage?from=${utcDay(sixtyDaysAgo)}&to=${utcDay(sixtyDaysAgo)}`);

    expectOpenAiError(refused, 400, { code: null, param: 'from' });
    expect(refused.body.error.message).toBe(
      `Invalid 'from': The ledger holds single calls from ${keptFrom} only; before it, usage is kept by whole UTC days. ` +
        `Put 'from' at a UTC midnight, or at ${keptFrom} or later.`,
    );
    expect(wholeDay.body.data).toEqual([expect.objectContaining({ key: utcDay(sixtyDaysAgo), requests: 2, promptTokens: 140, failures: 1 })]);
  });
});
