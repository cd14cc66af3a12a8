import Database from 'better-sqlite3';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { aUserMessage, eventually, startGatewayWithSimulator } from './support/gateway-harness';
import { parseResponses, rawConnection } from './support/raw-http';

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
    const { rows } = ledger.prepare("SELECT COUNT(*) AS rows FROM tollgate_usage_ledger WHERE outcome = 'success'").get() as { rows: number };
    ledger.close();
    expect(rows).toBe(3);
  });

  it('should answer a request that arrives on a kept-alive connection while closing with 503 in OpenAI’s shape and Retry-After', async () => {
    const gateway = await startGatewayWithSimulator();
    gateway.simulator.configure({ chunkIntervalMs: 100 });
    const connection = await rawConnection(gateway.url);
    const body = JSON.stringify({ model: 'gpt-4o-mini', messages: aUserMessage(), stream: true });
    connection.send(
      `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${gateway.tenantKey}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    // A stream that began before the close keeps its connection: the next request on it arrives while the server closes.
    await eventually(() => expect(connection.text).toContain('data: '));

    const closing = gateway.close();
    await eventually(() => expect(gateway.app.getHttpServer().listening).toBe(false));
    connection.send('GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n');
    const received = await connection.receivedWhenClosed();
    await closing;

    const [arrivedWhileClosing] = parseResponses(received.slice(received.indexOf('HTTP/1.1 ', 1)));
    expect(received).toContain('data: [DONE]');
    expect(arrivedWhileClosing.status).toBe(503);
    expect(arrivedWhileClosing.headers).toMatchObject({ 'retry-after': expect.stringMatching(/^\d+$/), connection: 'close' });
    expect(JSON.parse(arrivedWhileClosing.body)).toEqual({
      error: { message: expect.any(String), type: 'server_error', code: 'server_shutting_down', param: null },
    });
  });
});
