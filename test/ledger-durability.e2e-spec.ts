import { Test } from '@nestjs/testing';
import { AiModule, AiService } from '@tollgate/ai';
import { Database } from '@tollgate/ai/tenancy';
import { RunningSimulator, startSimulator } from '@tollgate/simulator';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Ledger rows are written in batches; a graceful shutdown must write out the last batch. */
describe('Usage ledger across a graceful shutdown', () => {
  let simulator: RunningSimulator;

  beforeAll(async () => {
    simulator = await startSimulator();
  });
  afterAll(() => simulator.close());

  async function startApp(databaseFile: string) {
    const moduleRef = await Test.createTestingModule({
      imports: [
        AiModule.forRoot({
          upstream: { baseURL: simulator.url, apiKey: 'sk-ledger-test' },
          database: { url: `sqlite:${databaseFile}` },
          // Never flushed by the timer in this test: only the shutdown can write the rows.
          tenancy: { ledgerFlushIntervalMs: 3_600_000, ledgerBatchSize: 1_000 },
        }),
      ],
    }).compile();
    return moduleRef.init();
  }

  it('should write every buffered row before the process stops', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'tollgate-ledger-')), 'ledger.sqlite');
    const first = await startApp(file);
    const ai = first.get(AiService);
    for (let i = 0; i < 5; i++) {
      await ai.chat({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: `Hello ${i}` }] }, { tenantId: 'acme' });
    }
    const before = await first.get(Database).manager.query('SELECT COUNT(*) AS rows FROM tollgate_usage_ledger');

    await first.close();
    const second = await startApp(file);
    const after = await second.get(Database).manager.query('SELECT COUNT(*) AS rows, SUM(completion_tokens) AS tokens FROM tollgate_usage_ledger');
    await second.close();

    expect(Number(before[0].rows)).toBe(0);
    expect(Number(after[0].rows)).toBe(5);
    expect(Number(after[0].tokens)).toBe(5 * 12);
  });
});
