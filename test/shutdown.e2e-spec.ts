import Database from 'better-sqlite3';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { aUserMessage, eventually, startGatewayWithSimulator } from './support/gateway-harness';

/** A graceful shutdown lets the calls in flight finish, tells keep-alive clients to let go, and loses no ledger row. */
describe('Graceful shutdown', () => {
  it('should finish the calls in flight, answer them with Connection: close, and write their ledger rows', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'tollgate-shutdown-')), 'gateway.sqlite');
    const gateway = await startGatewayWithSimulator({ DATABASE_URL: `sqlite:${file}` });
    gateway.simulator.configure({ latencyMs: 400 });
    const inFlight = Array.from({ length: 3 }, () =>
      gateway.client.chat.completions.create({ model: 'gpt-4o-mini', messages: aUserMessage() }).withResponse(),
    );
    await eventually(() => expect(gateway.simulator.calls()).toHaveLength(3)); // all three in flight upstream

    const closing = gateway.close();
    const answers = await Promise.all(inFlight);
    await closing;

    expect(answers.map(({ data }) => data.object)).toEqual(['chat.completion', 'chat.completion', 'chat.completion']);
    expect(answers.map(({ response }) => response.headers.get('connection'))).toEqual(['close', 'close', 'close']);
    const ledger = new Database(file, { readonly: true });
    const { rows } = ledger.prepare("SELECT COUNT(*) AS rows FROM usage_ledger WHERE outcome = 'success'").get() as { rows: number };
    ledger.close();
    expect(rows).toBe(3);
  });
});
