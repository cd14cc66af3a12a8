import { startSimulator, type RunningSimulator } from '@tollgate/simulator';
import { clientFor, MESSAGES, originOf, postJson } from './helpers';

describe('simulator control endpoints', () => {
  let sim: RunningSimulator;
  let control: string;

  beforeAll(async () => {
    sim = await startSimulator();
    control = `${originOf(sim)}/_simulator`;
  });
  afterEach(() => sim.reset());
  afterAll(() => sim.close());

  const send = (method: string, path: string, body?: unknown) =>
    fetch(`${control}${path}`, {
      method,
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
  const complete = () => postJson(`${sim.url}/chat/completions`, { model: 'gpt-4o', messages: MESSAGES });

  it('should queue faults with POST /_simulator/faults', async () => {
    const response = await send('POST', '/faults', { faults: [{ preset: 'overloaded', times: 2 }, { status: 500 }] });

    expect(response.status).toBe(204);
    const statuses = [(await complete()).status, (await complete()).status, (await complete()).status, (await complete()).status];
    expect(statuses).toEqual([503, 503, 500, 200]);
  });

  it('should merge config with PUT /_simulator/config and answer the full config', async () => {
    const response = await send('PUT', '/config', { completionWords: 3, randomFaults: ['server_error'] });

    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      latencyMs: 0,
      chunkIntervalMs: 0,
      randomFaultRate: 0,
      randomFaults: ['server_error'],
      completionWords: 3,
      cachedPromptTokens: 0,
    });
    const completion = await clientFor(sim).chat.completions.create({ model: 'gpt-4o', messages: MESSAGES });
    expect(completion.choices[0].message.content).toBe('Lorem ipsum dolor');
    expect(await (await send('GET', '/config')).json()).toMatchObject({ completionWords: 3 });
  });

  it('should set and clear accepted keys with PUT /_simulator/keys', async () => {
    const set = await send('PUT', '/keys', { acceptedKeys: ['sk-only'] });
    const rejected = await complete();
    const accepted = await postJson(`${sim.url}/chat/completions`, { model: 'gpt-4o', messages: MESSAGES }, { authorization: 'Bearer sk-only' });
    const cleared = await send('PUT', '/keys', { acceptedKeys: null });
    const open = await complete();

    expect([set.status, cleared.status]).toEqual([204, 204]);
    expect([rejected.status, accepted.status, open.status]).toEqual([401, 200, 200]);
  });

  it('should list API calls, not control calls, with GET /_simulator/calls', async () => {
    await complete();
    await send('GET', '/config');
    await complete();

    const response = await send('GET', '/calls');

    expect(response.status).toBe(200);
    const body = (await response.json()) as { count: number; calls: Array<{ seq: number; path: string }> };
    expect(body.count).toBe(2);
    expect(body.calls).toMatchObject([
      { seq: 1, path: '/v1/chat/completions' },
      { seq: 2, path: '/v1/chat/completions' },
    ]);
    expect(sim.calls()).toHaveLength(2);
  });

  it('should clear calls, faults and config with POST /_simulator/reset', async () => {
    sim.configure({ completionWords: 1 });
    sim.enqueueFaults({ preset: 'server_error' });
    await send('POST', '/faults', { faults: [{ preset: 'overloaded' }] });
    await complete();

    const response = await send('POST', '/reset');

    expect(response.status).toBe(204);
    expect(sim.calls()).toEqual([]);
    expect((await complete()).status).toBe(200);
    expect(await (await send('GET', '/config')).json()).toMatchObject({ completionWords: 12 });
  });

  it.each([
    ['POST', '/faults', '{not json'],
    ['POST', '/faults', { faults: 'overloaded' }],
    ['POST', '/faults', {}],
    ['POST', '/faults', { faults: [{ preset: 'meltdown' }] }],
    ['POST', '/faults', { faults: [{ preset: 'overloaded', tims: 2 }] }],
    ['PUT', '/config', { randomFaultRate: 2 }],
    ['PUT', '/config', { latencyMs: -1 }],
    ['PUT', '/config', { randomFaults: ['meltdown'] }],
    ['PUT', '/config', { latency: 10 }],
    ['PUT', '/config', []],
    ['PUT', '/keys', { acceptedKeys: 'sk-one' }],
    ['PUT', '/keys', {}],
  ])('should refuse %s %s with %j with a 400', async (method, path, body) => {
    const response = await send(method, path, body);

    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: { type: 'invalid_request_error', message: expect.any(String) } });
    expect(await (await send('GET', '/config')).json()).toMatchObject({ randomFaultRate: 0, latencyMs: 0, randomFaults: expect.any(Array) });
    expect((await complete()).status).toBe(200);
  });

  it('should answer an unknown control path with a 404', async () => {
    const response = await send('GET', '/nothing');

    expect(response.status).toBe(404);
    expect(sim.calls()).toEqual([]);
  });

  it('should refuse invalid config through configure()', () => {
    expect(() => sim.configure({ randomFaultRate: 1.5 })).toThrow("'randomFaultRate' must be a number between 0 and 1");
    expect(() => sim.configure({ completionWords: 2.5 })).toThrow("'completionWords'");
  });
});
