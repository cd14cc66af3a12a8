import { GatewayUnderTest, startGatewayWithSimulator } from './support/gateway-harness';
import { parseResponses, RawConnection, rawConnection } from './support/raw-http';

// Small on purpose: the server must close slow and idle connections after these, whatever the client does.
const LIMITS = { HTTP_HEADERS_TIMEOUT_MS: '400', HTTP_REQUEST_TIMEOUT_MS: '800', HTTP_KEEP_ALIVE_TIMEOUT_MS: '400', HTTP_MAX_CONNECTIONS: '120' };
const SLOW_CONNECTIONS = 60;
/** How long a slow client keeps dribbling at most: far past every limit above, so that only the server can end it sooner. */
const DRIBBLE_STEPS = 60;
const DRIBBLE_EVERY_MS = 100;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Sends `text` one byte at a time until it is all sent or the server closes the connection; whether the server closed it first. */
async function dribble(connection: RawConnection, text: string): Promise<{ closedByServer: boolean }> {
  for (const byte of text.slice(0, DRIBBLE_STEPS)) {
    if (connection.isClosed) return { closedByServer: true };
    connection.send(byte);
    await sleep(DRIBBLE_EVERY_MS);
  }
  const closedByServer = connection.isClosed;
  connection.destroy();
  return { closedByServer };
}

describe('Slow and idle clients', () => {
  let gateway: GatewayUnderTest;

  beforeAll(async () => {
    gateway = await startGatewayWithSimulator(LIMITS);
  });
  afterAll(() => gateway.close());

  const connections = (count: number) => Promise.all(Array.from({ length: count }, () => rawConnection(gateway.url)));

  async function expectLiveness(): Promise<void> {
    const response = await fetch(`${gateway.url}/health/live`);
    expect(response.status).toBe(200);
    await response.arrayBuffer();
  }

  /** What the server said before it closed: a 408 in OpenAI's shape, or nothing. */
  function expectTimeoutAnswerOrNothing(connection: RawConnection): void {
    if (connection.text === '') return;
    const [response] = parseResponses(connection.text);
    expect(response.status).toBe(408);
    expect(JSON.parse(response.body)).toEqual({ error: { message: expect.any(String), type: 'invalid_request_error', code: null, param: null } });
  }

  it('should answer liveness while clients send their headers byte by byte, and close those connections after HTTP_HEADERS_TIMEOUT_MS', async () => {
    const slow = await connections(SLOW_CONNECTIONS);
    const dribbling = slow.map((connection) => dribble(connection, `GET /health/live HTTP/1.1\r\nHost: x\r\nX-Slow: ${'a'.repeat(DRIBBLE_STEPS)}`));

    await expectLiveness();
    const outcomes = await Promise.all(dribbling);

    expect(outcomes.every(({ closedByServer }) => closedByServer)).toBe(true);
    slow.forEach(expectTimeoutAnswerOrNothing);
    await expectLiveness();
  }, 20_000);

  it('should answer liveness while clients send a body byte by byte, and close those connections after HTTP_REQUEST_TIMEOUT_MS', async () => {
    const slow = await connections(SLOW_CONNECTIONS);
    const headers = `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${gateway.tenantKey}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n`;
    slow.forEach((connection) => connection.send(headers));
    const dribbling = slow.map((connection) => dribble(connection, ' '.repeat(DRIBBLE_STEPS)));

    await expectLiveness();
    const outcomes = await Promise.all(dribbling);

    expect(outcomes.every(({ closedByServer }) => closedByServer)).toBe(true);
    slow.forEach(expectTimeoutAnswerOrNothing);
    expect(gateway.simulator.calls()).toHaveLength(0);
  }, 20_000);

  it('should answer liveness while connections sit idle without a byte, and close them', async () => {
    const idle = await connections(SLOW_CONNECTIONS);

    await expectLiveness();
    const closedByServer = await Promise.race([Promise.all(idle.map((connection) => connection.closed)).then(() => true), sleep(DRIBBLE_STEPS * DRIBBLE_EVERY_MS).then(() => false)]);

    expect(closedByServer).toBe(true);
    idle.forEach((connection) => connection.destroy());
  }, 20_000);

  it('should close a kept-alive connection left idle after an answer', async () => {
    const connection = await rawConnection(gateway.url);
    connection.send('GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n');

    const closedByServer = await Promise.race([connection.closed.then(() => true), sleep(DRIBBLE_STEPS * DRIBBLE_EVERY_MS).then(() => false)]);

    expect(closedByServer).toBe(true);
    expect(parseResponses(connection.text).map((response) => response.status)).toEqual([200]);
  }, 20_000);

  it('should drop connections beyond HTTP_MAX_CONNECTIONS, and answer again once the idle ones are closed', async () => {
    const held = await connections(Number(LIMITS.HTTP_MAX_CONNECTIONS));
    const extra = await rawConnection(gateway.url);

    await extra.closed; // dropped at once, without a byte
    expect(extra.text).toBe('');
    await Promise.all(held.map((connection) => connection.closed));
    await expectLiveness();
  }, 20_000);
});
