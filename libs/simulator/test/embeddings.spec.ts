import { startSimulator, type RunningSimulator } from '@tollgate/simulator';
import { countTokens } from 'gpt-tokenizer/encoding/cl100k_base';
import type OpenAI from 'openai';
import { APIConnectionError, APIError } from 'openai';
import { clientFor, postJson, rejectionOf } from './helpers';

const norm = (vector: readonly number[]) => Math.hypot(...vector);
const cosine = (a: readonly number[], b: readonly number[]) => a.reduce((total, value, i) => total + value * b[i], 0) / (norm(a) * norm(b));

describe('simulator embeddings', () => {
  let sim: RunningSimulator;
  let client: OpenAI;

  beforeAll(async () => {
    sim = await startSimulator();
    client = clientFor(sim);
  });
  afterEach(() => sim.reset());
  afterAll(() => sim.close());

  it("should answer OpenAI's embeddings shape with one unit vector per input, counted with cl100k_base", async () => {
    const inputs = ['The quick brown fox', 'jumped over the lazy dog'];
    const response = await client.embeddings.create({ model: 'text-embedding-3-small', input: inputs, encoding_format: 'float' });

    expect(response).toEqual({
      object: 'list',
      data: [
        { object: 'embedding', index: 0, embedding: expect.any(Array) },
        { object: 'embedding', index: 1, embedding: expect.any(Array) },
      ],
      model: 'text-embedding-3-small',
      usage: { prompt_tokens: countTokens(inputs[0]) + countTokens(inputs[1]), total_tokens: countTokens(inputs[0]) + countTokens(inputs[1]) },
    });
    for (const { embedding } of response.data) {
      expect(embedding).toHaveLength(1536);
      expect(norm(embedding)).toBeCloseTo(1, 5);
    }
    expect(cosine(response.data[0].embedding, response.data[1].embedding)).toBeLessThan(0.5);
  });

  it('should give the same input the same vector, in any request', async () => {
    const alone = await client.embeddings.create({ model: 'text-embedding-3-small', input: 'same text', encoding_format: 'float' });
    const amongOthers = await client.embeddings.create({ model: 'text-embedding-3-small', input: ['other', 'same text'], encoding_format: 'float' });
    const other = await client.embeddings.create({ model: 'text-embedding-3-small', input: 'different text', encoding_format: 'float' });

    expect(amongOthers.data[1].embedding).toEqual(alone.data[0].embedding);
    expect(other.data[0].embedding).not.toEqual(alone.data[0].embedding);
  });

  it("should encode base64 as OpenAI does, little-endian float32, which the SDK decodes by default", async () => {
    const asFloats = await client.embeddings.create({ model: 'text-embedding-3-small', input: 'hello', encoding_format: 'float' });
    const raw = await postJson(`${sim.url}/embeddings`, { model: 'text-embedding-3-small', input: 'hello', encoding_format: 'base64' });
    const bySdk = await client.embeddings.create({ model: 'text-embedding-3-small', input: 'hello' });

    const encoded = ((await raw.json()) as { data: Array<{ embedding: string }> }).data[0].embedding;
    expect(typeof encoded).toBe('string');
    const bytes = Buffer.from(encoded, 'base64');
    expect(bytes.length).toBe(1536 * 4);
    const decoded = Array.from({ length: 1536 }, (_, i) => bytes.readFloatLE(i * 4));
    expect(decoded).toEqual(asFloats.data[0].embedding);
    expect(bySdk.data[0].embedding).toEqual(asFloats.data[0].embedding);
  });

  it("should shorten to `dimensions` as OpenAI does: the full vector's start, normalised again", async () => {
    const full = await client.embeddings.create({ model: 'text-embedding-3-large', input: 'hello', encoding_format: 'float' });
    const short = await client.embeddings.create({ model: 'text-embedding-3-large', input: 'hello', dimensions: 256, encoding_format: 'float' });

    expect(full.data[0].embedding).toHaveLength(3072);
    expect(short.data[0].embedding).toHaveLength(256);
    expect(norm(short.data[0].embedding)).toBeCloseTo(1, 5);
    expect(cosine(short.data[0].embedding, full.data[0].embedding.slice(0, 256))).toBeCloseTo(1, 5);
  });

  it('should embed token arrays and count their tokens', async () => {
    const one = await client.embeddings.create({ model: 'text-embedding-3-small', input: [1, 2, 3], encoding_format: 'float' });
    const many = await client.embeddings.create({ model: 'text-embedding-3-small', input: [[1, 2], [3, 4, 5]], encoding_format: 'float' });

    expect(one.data).toHaveLength(1);
    expect(one.usage).toEqual({ prompt_tokens: 3, total_tokens: 3 });
    expect(many.data).toHaveLength(2);
    expect(many.usage.prompt_tokens).toBe(5);
  });

  it.each([
    ['no input', { model: 'text-embedding-3-small' }, 'input', 'missing_required_parameter'],
    ['an empty string', { model: 'text-embedding-3-small', input: '' }, 'input', 'invalid_value'],
    ['an empty array', { model: 'text-embedding-3-small', input: [] }, 'input', 'empty_array'],
    ['a mixed array', { model: 'text-embedding-3-small', input: ['a', 1] }, 'input', 'invalid_value'],
    ['an object', { model: 'text-embedding-3-small', input: { text: 'a' } }, 'input', 'invalid_value'],
    ['too many dimensions', { model: 'text-embedding-3-small', input: 'a', dimensions: 2000 }, 'dimensions', 'invalid_value'],
    ['dimensions for ada-002', { model: 'text-embedding-ada-002', input: 'a', dimensions: 10 }, 'dimensions', null],
    ['an unknown encoding', { model: 'text-embedding-3-small', input: 'a', encoding_format: 'hex' }, 'encoding_format', 'invalid_value'],
    ['no model', { input: 'a' }, null, null],
  ])('should answer %s with a 400 invalid_request_error', async (_, body, param, code) => {
    const response = await postJson(`${sim.url}/embeddings`, body);

    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ error: { message: expect.any(String), type: 'invalid_request_error', param, code } });
    expect(sim.calls()[0]).toMatchObject({ endpoint: 'embeddings', status: 400 });
  });

  describe('faults', () => {
    const embed = (model = 'text-embedding-3-small', headers: Record<string, string> = {}) =>
      client.embeddings.create({ model, input: 'hello', encoding_format: 'float' }, { headers });

    it('should take them from the header, the model name, the queue and at random, as chat completions do', async () => {
      sim.enqueueFaults({ preset: 'server_error' });

      const header = await rejectionOf(embed('text-embedding-3-small', { 'x-simulator-fault': 'overloaded' }));
      const modelName = await rejectionOf(embed('text-embedding-3-small:fault=insufficient_quota'));
      const queued = await rejectionOf(embed());
      sim.configure({ randomFaultRate: 1, randomFaults: ['rate_limit_exceeded'] });
      const random = await rejectionOf(embed());

      expect([header, modelName, queued, random].map((error) => (error as APIError).status)).toEqual([503, 429, 500, 429]);
      expect(sim.calls().map((call) => [call.endpoint, call.fault])).toEqual([
        ['embeddings', 'overloaded'],
        ['embeddings', 'insufficient_quota'],
        ['embeddings', 'server_error'],
        ['embeddings', 'rate_limit_exceeded'],
      ]);
    });

    it('should leave a queued fault matching another model for that model', async () => {
      sim.enqueueFaults({ preset: 'model_not_found', match: { model: 'text-embedding-3-large' } });

      await embed('text-embedding-3-small');
      const error = await rejectionOf(embed('text-embedding-3-large'));

      expect(error).toMatchObject({ status: 404, code: 'model_not_found' });
      expect((error as APIError).message).toContain('text-embedding-3-large');
    });

    it('should drop the connection on reset and cut the body on truncated_body', async () => {
      const reset = await rejectionOf(embed('text-embedding-3-small', { 'x-simulator-fault': 'reset' }));
      const truncated = await postJson(`${sim.url}/embeddings`, { model: 'text-embedding-3-small', input: 'a' }, { 'x-simulator-fault': 'truncated_body' });

      const text = await truncated.text();

      expect(reset).toBeInstanceOf(APIConnectionError);
      expect(truncated.status).toBe(200);
      expect(() => JSON.parse(text)).toThrow(SyntaxError);
    });

    it('should answer response_failed with a 500, there being no body to fail in', async () => {
      const error = await rejectionOf(embed('text-embedding-3-small', { 'x-simulator-fault': 'response_failed' }));

      expect(error).toMatchObject({ status: 500, code: 'server_error', type: 'server_error' });
    });
  });
});
