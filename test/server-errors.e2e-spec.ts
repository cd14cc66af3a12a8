import { LOG_LEVEL } from './support/captured-log';
import { eventually, GatewayUnderTest, startGatewayWithSimulator } from './support/gateway-harness';
import { parseResponses, rawConnection, RawResponse } from './support/raw-http';

/** What the server answers itself, before any route or guard: always OpenAI's error shape, never Fastify's or Node's. */
describe('Errors the HTTP server answers itself', () => {
  let gateway: GatewayUnderTest;

  beforeAll(async () => {
    gateway = await startGatewayWithSimulator({ MAX_BODY_BYTES: '2048' });
  });
  afterAll(() => gateway.close());

  /** Sends raw bytes on a new connection and reads the one answer, after which the server must close it. */
  async function exchange(request: string): Promise<RawResponse> {
    const connection = await rawConnection(gateway.url);
    connection.send(request);
    const responses = parseResponses(await connection.receivedWhenClosed());
    expect(responses).toHaveLength(1);
    return responses[0];
  }

  function expectOpenAiShape(response: RawResponse, status: number): void {
    expect(response.status).toBe(status);
    expect(response.headers['content-type']).toContain('application/json');
    const { error } = JSON.parse(response.body) as { error: Record<string, unknown> };
    expect(Object.keys(error).sort()).toEqual(['code', 'message', 'param', 'type']);
    expect(error).toMatchObject({ type: 'invalid_request_error', message: expect.any(String) });
  }

  it.each([
    ['a malformed request line', 'GET /health/live HTTP/9.9 nonsense\r\n\r\n'],
    ['a header without a colon', 'GET /health/live HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n'],
    ['a bad method', 'G@T /health/live HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['both Content-Length and chunked', 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'],
  ])('should answer %s with 400 in OpenAI’s shape and close the connection', async (_case, request) => {
    expectOpenAiShape(await exchange(request), 400);
  });

  it('should answer headers larger than Node takes with 431 in OpenAI’s shape', async () => {
    const response = await exchange(`GET /health/live HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);

    expectOpenAiShape(response, 431);
  });

  it('should answer a URL the router cannot decode with 400 in OpenAI’s shape', async () => {
    const response = await fetch(`${gateway.url}/v1/models/%E0%A4%A`, { headers: { authorization: `Bearer ${gateway.tenantKey}` } });

    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ error: { message: expect.any(String), type: 'invalid_request_error', code: null, param: null } });
  });

  it('should answer a body over MAX_BODY_BYTES with 413 in OpenAI’s shape and close the connection', async () => {
    const request = `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${gateway.tenantKey}\r\nContent-Type: application/json\r\nContent-Length: 4096\r\n\r\n`;

    const response = await exchange(request);

    expectOpenAiShape(response, 413);
    expect(response.headers.connection).toBe('close');
  });

  it('should log an upload the client aborted at info, without a stack, with the outcome request_aborted', async () => {
    const connection = await rawConnection(gateway.url);
    const linesBefore = gateway.log.lines.length;

    connection.send(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${gateway.tenantKey}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"model":`);
    await new Promise((resolve) => setTimeout(resolve, 50)); // for the gateway to start reading the body
    connection.destroy();

    let requestLine: Record<string, unknown> | undefined;
    await eventually(() => expect((requestLine = gateway.log.requests().find((entry) => entry.outcome === 'request_aborted'))).toBeDefined());
    const newLines = gateway.log.entries().slice(linesBefore);
    expect(newLines.filter((entry) => (entry.level as number) >= LOG_LEVEL.error)).toEqual([]);
    expect(JSON.stringify(newLines)).not.toMatch(/\bat \S+ \(|"stack"/);
    expect(requestLine).toMatchObject({ level: LOG_LEVEL.info, outcome: 'request_aborted' });
    expect(gateway.simulator.calls()).toHaveLength(0);
  });
});
