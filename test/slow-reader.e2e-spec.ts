
import { Governance, Database } from '@tollgate/ai/tenancy';
import { IncomingMessage, request as httpRequest } from 'node:http';
import { TokenCounter } from '../libs/ai/src/context/token-counter';
import { GatewayUnderTest, startGatewayWithSimulator } from './support/gateway-harness';
import { PacedUpstream, startPacedUpstream } from './support/paced-upstream';

/** About 28 MB of stream: far more than the sockets between upstream, gateway and reader can buffer. */
const CHUNKS = 200_000;
const IDLE_MS = 300;

/** Opens a stream as a tenant whose client stops reading after the first bytes. */
function openStream(gateway: GatewayUnderTest, requestId: string): Promise<IncomingMessage> {
  const body = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Write a lot.' }], stream: true });
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gateway.tenantKey}`, 'content-type': 'application/json', 'x-request-id': requestId },
    });
    req.on('response', resolve).on('error', reject).end(body);
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('A stream whose reader stops reading', () => {
  let upstream: PacedUpstream;
  let gateway: GatewayUnderTest;

  beforeAll(async () => {
    upstream = await startPacedUpstream(CHUNKS);
    gateway = await startGatewayWithSimulator({ OPENAI_BASE_URL: upstream.url, AI_STREAM_IDLE_TIMEOUT_MS: String(IDLE_MS) });
  });
  afterAll(async () => {
    await gateway.close();
    await upstream.close();
  }, 30_000);

  it('should be billed at least what it was relayed, and not read far ahead of the reader', async () => {
    const response = await openStream(gateway, 'slow-reader-1');
    response.pause();
    await sleep(10 * IDLE_MS);
    const readFromUpstream = upstream.chunksAccepted();

    let received = '';
    response.setEncoding('utf8');
    for await (const data of response) received += data;
    await gateway.app.get(Governance).drain();

    const text = received
      .split('\n\n')
      .filter((event) => event.startsWith('data: {'))
      .map((event) => JSON.parse(event.slice('data: '.length)).choices?.[0]?.delta?.content ?? '')
      .join('');
    const [row] = await gateway.app.get(Database).manager.query(`SELECT completion_tokens FROM tollgate_usage_ledger WHERE request_id = 'slow-reader-1'`);
    expect(text.length).toBeGreaterThan(0);
    expect(Number(row.completion_tokens)).toBeGreaterThanOrEqual(gateway.app.get(TokenCounter).countText(text));
    // Held back by the reader: what the gateway took from the upstream is what fits in the sockets' buffers, not the stream.
    expect(readFromUpstream).toBeLessThan(CHUNKS / 2);
  }, 60_000);
});
