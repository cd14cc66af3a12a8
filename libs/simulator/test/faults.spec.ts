import { startSimulator, type FaultPreset, type RunningSimulator, type SimulatedFault } from '@tollgate/simulator';
import OpenAI, { APIConnectionError, APIError, APIUserAbortError } from 'openai';
import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import { clientFor, eventually, MESSAGES, postJson, rejectionOf } from './helpers';

describe('simulator faults', () => {
  let sim: RunningSimulator;
  let client: OpenAI;

  beforeAll(async () => {
    sim = await startSimulator();
    client = clientFor(sim);
  });
  afterEach(() => sim.reset());
  afterAll(() => sim.close());

  const complete = (model = 'gpt-4o-mini', headers: Record<string, string> = {}) =>
    client.chat.completions.create({ model, messages: MESSAGES }, { headers });

  /** Status of a completion: 200, or the error status the SDK surfaced. */
  async function statusOf(request: Promise<unknown>): Promise<number | undefined> {
    try {
      await request;
      return 200;
    } catch (error) {
      if (error instanceof APIError) return error.status;
      throw error;
    }
  }

  async function apiErrorOf(request: Promise<unknown>): Promise<APIError> {
    const error = await rejectionOf(request);
    expect(error).toBeInstanceOf(APIError);
    return error as APIError;
  }

  describe('presets', () => {
    it.each<[FaultPreset, number, string | null, string, string | null, string]>([
      ['rate_limit_exceeded', 429, 'rate_limit_exceeded', 'requests', null, 'Rate limit reached for gpt-4o-mini in organization org-simulator on requests per min (RPM)'],
      ['request_too_large', 429, 'rate_limit_exceeded', 'tokens', null, 'Request too large for gpt-4o-mini in organization org-simulator on tokens per min (TPM)'],
      ['insufficient_quota', 429, 'insufficient_quota', 'insufficient_quota', null, 'You exceeded your current quota'],
      ['context_length_exceeded', 400, 'context_length_exceeded', 'invalid_request_error', 'messages', "This model's maximum context length is 128000 tokens"],
      ['bad_request', 400, null, 'invalid_request_error', null, "Invalid value for 'temperature'"],
      ['invalid_api_key', 401, 'invalid_api_key', 'invalid_request_error', null, 'Incorrect API key provided'],
      ['permission_denied', 403, null, 'invalid_request_error', null, 'You are not allowed to access this model.'],
      ['model_not_found', 404, 'model_not_found', 'invalid_request_error', null, 'The model `gpt-4o-mini` does not exist'],
      ['request_timeout', 408, null, 'server_error', null, 'Request timed out.'],
      ['conflict', 409, null, 'invalid_request_error', null, 'conflicted'],
      ['server_error', 500, null, 'server_error', null, 'The server had an error while processing your request.'],
      ['bad_gateway', 502, null, 'server_error', null, 'Bad gateway.'],
      ['overloaded', 503, null, 'server_error', null, 'The engine is currently overloaded, please try again later.'],
    ])('should answer %s with %i and OpenAI\'s error body', async (preset, status, code, type, param, message) => {
      const error = await apiErrorOf(complete('gpt-4o-mini', { 'x-simulator-fault': preset }));

      expect(error).toMatchObject({ status, code, type, param });
      expect(error.error).toEqual({ message: expect.stringContaining(message), type, param, code });
      expect(error.headers?.get('x-request-id')).toBe('req_sim_1');
      expect(error.headers?.get('x-ratelimit-limit-requests')).not.toBeNull();
      expect(sim.calls()[0]).toMatchObject({ fault: preset, status, aborted: false });
    });

    it('should send retry-after headers with rate_limit_exceeded only', async () => {
      const limited = await apiErrorOf(complete('gpt-4o', { 'x-simulator-fault': 'rate_limit_exceeded' }));
      const overloaded = await apiErrorOf(complete('gpt-4o', { 'x-simulator-fault': 'overloaded' }));

      expect(limited.headers?.get('retry-after')).toBe('1');
      expect(limited.headers?.get('retry-after-ms')).toBe('1000');
      expect(limited.headers?.get('x-ratelimit-remaining-requests')).toBe('0');
      expect(overloaded.headers?.get('retry-after-ms')).toBeNull();
    });

    it('should let a fault override the status, body and headers', async () => {
      const fault: SimulatedFault = {
        preset: 'rate_limit_exceeded',
        retryAfter: '0.25',
        retryAfterMs: 250,
        message: 'Slow down.',
        code: 'custom_code',
        headers: { 'x-extra': 'yes' },
      };
      const error = await apiErrorOf(complete('gpt-4o', { 'x-simulator-fault': JSON.stringify(fault) }));

      expect(error).toMatchObject({ status: 429, code: 'custom_code', type: 'requests' });
      expect(error.error).toMatchObject({ message: 'Slow down.' });
      expect(error.headers?.get('retry-after')).toBe('0.25');
      expect(error.headers?.get('retry-after-ms')).toBe('250');
      expect(error.headers?.get('x-extra')).toBe('yes');
    });

    it('should give a bare status its OpenAI error body', async () => {
      const overloaded = await apiErrorOf(complete('gpt-4o', { 'x-simulator-fault': '{"status":503}' }));
      const teapot = await apiErrorOf(complete('gpt-4o', { 'x-simulator-fault': '{"status":418}' }));
      const gatewayTimeout = await apiErrorOf(complete('gpt-4o', { 'x-simulator-fault': '{"status":504,"param":"model"}' }));

      expect(overloaded).toMatchObject({ status: 503, type: 'server_error' });
      expect(overloaded.message).toContain('overloaded');
      expect(teapot).toMatchObject({ status: 418, type: 'invalid_request_error', code: null });
      expect(gatewayTimeout).toMatchObject({ status: 504, type: 'server_error', param: 'model' });
      expect(sim.calls().map((c) => c.fault)).toEqual(['status:503', 'status:418', 'status:504']);
    });

    it('should mask the key in invalid_api_key', async () => {
      const key = 'sk-proj-0123456789abcdefghijWXYZ';
      const error = await apiErrorOf(
        clientFor(sim, key).chat.completions.create({ model: 'gpt-4o', messages: MESSAGES }, { headers: { 'x-simulator-fault': 'invalid_api_key' } }),
      );

      expect(error.message).toContain('sk-...WXYZ');
      expect(error.message).not.toContain(key);
    });
  });

  describe('sources', () => {
    it('should take a preset from the model name and report the model without it', async () => {
      const error = await apiErrorOf(complete('gpt-4o-mini:fault=model_not_found'));
      const stream = await client.chat.completions.create({ model: 'gpt-4o:fault=mid_stream_failure', messages: MESSAGES, stream: true });
      const chunks: ChatCompletionChunk[] = [];
      await rejectionOf((async () => { for await (const chunk of stream) chunks.push(chunk); })());

      expect(error).toMatchObject({ status: 404, code: 'model_not_found' });
      expect(error.message).toContain('The model `gpt-4o-mini` does not exist');
      expect(chunks.map((c) => c.model)).toEqual(['gpt-4o', 'gpt-4o']);
      expect(sim.calls()).toMatchObject([
        { model: 'gpt-4o-mini:fault=model_not_found', fault: 'model_not_found' },
        { model: 'gpt-4o:fault=mid_stream_failure', fault: 'mid_stream_failure' },
      ]);
    });

    it('should prefer the header to the model name, and both to the queue', async () => {
      sim.enqueueFaults({ preset: 'server_error' });

      const header = await statusOf(complete('gpt-4o:fault=insufficient_quota', { 'x-simulator-fault': 'overloaded' }));
      const modelName = await statusOf(complete('gpt-4o:fault=insufficient_quota'));
      const queued = await statusOf(complete('gpt-4o'));

      expect([header, modelName, queued]).toEqual([503, 429, 500]);
    });

    it('should refuse unknown presets with a 400', async () => {
      const inHeader = await apiErrorOf(complete('gpt-4o', { 'x-simulator-fault': 'meltdown' }));
      const inModel = await apiErrorOf(complete('gpt-4o:fault=meltdown'));
      const badJson = await apiErrorOf(complete('gpt-4o', { 'x-simulator-fault': '{"status": 200}' }));

      expect([inHeader.status, inModel.status, badJson.status]).toEqual([400, 400, 400]);
      expect(inHeader.message).toContain("unknown simulator fault preset 'meltdown'");
    });
  });

  describe('queue', () => {
    it('should consume queued faults in order, each `times` times', async () => {
      sim.enqueueFaults({ preset: 'server_error', times: 2 }, { preset: 'overloaded' });

      const statuses = [];
      for (let i = 0; i < 4; i++) statuses.push(await statusOf(complete()));

      expect(statuses).toEqual([500, 500, 503, 200]);
      expect(sim.calls().map((c) => c.fault)).toEqual(['server_error', 'server_error', 'overloaded', undefined]);
    });

    it('should leave a fault matching another model for that model', async () => {
      sim.enqueueFaults({ preset: 'overloaded', match: { model: 'gpt-4o' } }, { status: 500 });

      const statuses = [
        await statusOf(complete('gpt-4o-mini')),
        await statusOf(complete('gpt-4o-mini')),
        await statusOf(complete('gpt-4o')),
        await statusOf(complete('gpt-4o')),
      ];

      expect(statuses).toEqual([500, 200, 503, 200]);
    });

    it('should apply to /v1/models, which only consumes faults without a model match', async () => {
      sim.enqueueFaults({ preset: 'overloaded', match: { model: 'gpt-4o' } }, { preset: 'server_error' });

      const first = await statusOf(client.models.list());
      const second = await statusOf(client.models.list());
      const forModel = await statusOf(complete('gpt-4o'));

      expect([first, second, forModel]).toEqual([500, 200, 503]);
    });

    it('should delay a response by the fault\'s latencyMs', async () => {
      sim.enqueueFaults({ latencyMs: 40 });

      const { response } = await complete().withResponse();

      expect(Number(response.headers.get('openai-processing-ms'))).toBeGreaterThanOrEqual(35);
      expect(sim.calls()[0]).toMatchObject({ fault: 'custom', status: 200 });
    });

    it('should refuse an invalid fault', () => {
      expect(() => sim.enqueueFaults({ preset: 'meltdown' as FaultPreset })).toThrow("'preset' must be a fault preset");
      expect(() => sim.enqueueFaults({ times: 0 })).toThrow("'times' must be a positive integer");
      expect(() => sim.enqueueFaults({ status: 200 })).toThrow("'status'");
    });
  });

  describe('random faults', () => {
    it('should fault every call at rate 1, with the configured presets', async () => {
      sim.configure({ randomFaultRate: 1, randomFaults: ['overloaded'] });

      const statuses = [];
      for (let i = 0; i < 5; i++) statuses.push(await statusOf(complete()));

      expect(statuses).toEqual([503, 503, 503, 503, 503]);
      expect(sim.calls().every((c) => c.fault === 'overloaded')).toBe(true);
    });

    it('should fault no call at rate 0', async () => {
      sim.configure({ randomFaultRate: 0 });

      const statuses = [];
      for (let i = 0; i < 5; i++) statuses.push(await statusOf(complete()));

      expect(statuses).toEqual([200, 200, 200, 200, 200]);
    });

    it('should draw the same faults from the same seed', async () => {
      const draw = async (target: RunningSimulator) => {
        target.configure({ randomFaultRate: 0.5 });
        const statuses = [];
        for (let i = 0; i < 20; i++) statuses.push(await statusOf(clientFor(target).chat.completions.create({ model: 'gpt-4o', messages: MESSAGES })));
        return statuses;
      };
      const twin = await startSimulator({ seed: 1 });
      const other = await startSimulator({ seed: 99 });
      try {
        const first = await draw(sim);
        sim.reset();
        const afterReset = await draw(sim);
        const fromTwin = await draw(twin);
        const fromOther = await draw(other);

        expect(new Set(first)).toEqual(new Set([200, 500, 503, 429]));
        expect(afterReset).toEqual(first);
        expect(fromTwin).toEqual(first);
        expect(fromOther).not.toEqual(first);
      } finally {
        await Promise.all([twin.close(), other.close()]);
      }
    });
  });

  describe('connection faults', () => {
    it('should record a hung request the client aborted', async () => {
      const controller = new AbortController();
      const request = client.chat.completions.create({ model: 'gpt-4o', messages: MESSAGES }, { headers: { 'x-simulator-fault': 'hang' }, signal: controller.signal });

      await eventually(() => sim.calls()[0]);
      controller.abort();

      expect(await rejectionOf(request)).toBeInstanceOf(APIUserAbortError);
      const call = await eventually(() => sim.calls().find((c) => c.aborted));
      expect(call.fault).toBe('hang');
      expect(call.status).toBeUndefined();
      expect(call.finishedAt).toBeGreaterThanOrEqual(call.receivedAt);
    });

    it('should record a slow stream the client left as aborted', async () => {
      sim.configure({ chunkIntervalMs: 20, completionWords: 50 });
      const stream = await client.chat.completions.create({ model: 'gpt-4o', messages: MESSAGES, stream: true });

      let received = 0;
      for await (const _ of stream) {
        received += 1;
        if (received === 2) break; // leaving the loop aborts the request
      }

      const call = await eventually(() => sim.calls().find((c) => c.aborted));
      expect(call).toMatchObject({ status: 200, stream: true });
      expect(call.finishedAt).toBeDefined();
    });

    it('should drop the connection without a response on reset', async () => {
      const error = await rejectionOf(complete('gpt-4o', { 'x-simulator-fault': 'reset' }));

      expect(error).toBeInstanceOf(APIConnectionError);
      const call = await eventually(() => sim.calls().find((c) => c.finishedAt !== undefined));
      expect(call).toMatchObject({ fault: 'reset', aborted: false });
      expect(call.status).toBeUndefined();
    });

    it('should cut a stream after two chunks on mid_stream_failure', async () => {
      const stream = await client.chat.completions.create(
        { model: 'gpt-4o', messages: MESSAGES, stream: true },
        { headers: { 'x-simulator-fault': 'mid_stream_failure' } },
      );
      const chunks: ChatCompletionChunk[] = [];

      const error = await rejectionOf((async () => { for await (const chunk of stream) chunks.push(chunk); })());

      expect(error).not.toBeInstanceOf(APIError);
      expect((error as Error).message).toMatch(/terminated|closed|reset/i);
      expect(chunks).toHaveLength(2);
      expect(chunks[0].choices[0].delta.role).toBe('assistant');
      expect(sim.calls()[0]).toMatchObject({ fault: 'mid_stream_failure', status: 200, aborted: false });
    });

    it('should cut a slow stream after failAfterChunks chunks', async () => {
      sim.enqueueFaults({ failAfterChunks: 4, chunkIntervalMs: 5 });
      const stream = await client.chat.completions.create({ model: 'gpt-4o', messages: MESSAGES, stream: true });
      const chunks: ChatCompletionChunk[] = [];

      await rejectionOf((async () => { for await (const chunk of stream) chunks.push(chunk); })());

      expect(chunks.map((c) => c.choices[0].delta.content)).toEqual(['', 'Lorem', ' ipsum', ' dolor']);
    });

    it('should treat mid_stream_failure on a non-streaming call like reset', async () => {
      const error = await rejectionOf(complete('gpt-4o', { 'x-simulator-fault': 'mid_stream_failure' }));

      expect(error).toBeInstanceOf(APIConnectionError);
    });

    it('should close without waiting for hung requests', async () => {
      const own = await startSimulator();
      const request = rejectionOf(postJson(`${own.url}/chat/completions`, { model: 'gpt-4o', messages: MESSAGES }, { 'x-simulator-fault': 'hang' }));
      await eventually(() => own.calls()[0]);

      await own.close();

      expect(await request).toBeDefined();
      expect(own.calls()[0]).toMatchObject({ aborted: false, finishedAt: expect.any(Number) });
    });
  });

  describe('accepted keys', () => {
    let guarded: RunningSimulator;

    beforeAll(async () => {
      guarded = await startSimulator({ acceptedKeys: ['sk-good'] });
    });
    afterEach(() => guarded.reset());
    afterAll(() => guarded.close());

    const completeWith = (key: string, headers: Record<string, string> = {}) =>
      clientFor(guarded, key).chat.completions.create({ model: 'gpt-4o', messages: MESSAGES }, { headers });

    it('should answer other keys with 401 invalid_api_key, whatever the faults, consuming none', async () => {
      guarded.enqueueFaults({ preset: 'server_error' });

      const rejected = await apiErrorOf(completeWith('sk-bad', { 'x-simulator-fault': 'overloaded' }));
      const accepted = await statusOf(completeWith('sk-good'));

      expect(rejected).toMatchObject({ status: 401, code: 'invalid_api_key', type: 'invalid_request_error' });
      expect(accepted).toBe(500);
      expect(guarded.calls()).toMatchObject([
        { authorized: false, status: 401 },
        { authorized: true, status: 500, fault: 'server_error' },
      ]);
      expect(guarded.calls()[0].fault).toBeUndefined();
      expect(JSON.stringify(guarded.calls())).not.toContain('sk-');
    });

    it('should answer a missing key with 401', async () => {
      const response = await fetch(`${guarded.url}/models`);

      expect(response.status).toBe(401);
      const { error } = (await response.json()) as { error: unknown };
      expect(error).toMatchObject({ code: 'invalid_api_key', message: expect.stringContaining("didn't provide an API key") });
    });

    it('should rotate keys with setAcceptedKeys and restore them on reset', async () => {
      guarded.setAcceptedKeys(['sk-rotated']);
      const afterRotation = [await statusOf(completeWith('sk-good')), await statusOf(completeWith('sk-rotated'))];
      guarded.setAcceptedKeys(undefined);
      const open = await statusOf(completeWith('sk-anything'));
      guarded.reset();
      const afterReset = [await statusOf(completeWith('sk-good')), await statusOf(completeWith('sk-rotated'))];

      expect(afterRotation).toEqual([401, 200]);
      expect(open).toBe(200);
      expect(afterReset).toEqual([200, 401]);
    });
  });
});
