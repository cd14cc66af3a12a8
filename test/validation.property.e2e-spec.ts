import fc from 'fast-check';
import { adminClient } from './support/admin-client';
import { GatewayUnderTest, startGatewayWithSimulator } from './support/gateway-harness';
import { changedAt, Json, JsonObject, Path, pathsIn } from './support/json-paths';

/** Every top-level field the gateway takes: the ones it checks in depth, then its allow-list. */
const ALLOWED_FIELDS = new Set([
  'model', 'messages', 'stream', 'stream_options', 'max_tokens', 'max_completion_tokens', 'temperature', 'top_p', 'n', 'stop', 'tools',
  'tool_choice', 'response_format', 'metadata',
  'store', 'reasoning_effort', 'service_tier', 'modalities', 'audio', 'prediction', 'web_search_options', 'verbosity', 'parallel_tool_calls',
  'logprobs', 'top_logprobs', 'presence_penalty', 'frequency_penalty', 'seed', 'logit_bias', 'user', 'safety_identifier', 'prompt_cache_key',
]);
// The JSON parser refuses `__proto__`; Nest's pipe strips `constructor` and `prototype` from any body.
const SPECIAL_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

// Arbitraries of a valid request, small enough that every one fits gpt-4o-mini's window.

/** JSON without the keys the gateway strips or refuses anywhere in a body (and so without a 400 that names a field). */
const plainJson = (maxDepth: number) =>
  fc.jsonValue({ maxDepth }).filter((value) => ![...SPECIAL_KEYS].some((special) => JSON.stringify(value).includes(`"${special}"`))) as fc.Arbitrary<Json>;
const plainJsonValue = plainJson(2);
const key = fc.string({ minLength: 1, maxLength: 12 }).filter((k) => !SPECIAL_KEYS.has(k));
const jsonObject = (maxDepth: number) => fc.dictionary(key, plainJson(maxDepth), { maxKeys: 4 });
const text = fc.string({ maxLength: 40 });
const functionName = fc.stringMatching(/^[a-zA-Z0-9_-]{1,64}$/);
const textPart = fc.record({ type: fc.constant('text'), text });
const userPart = fc.oneof(
  textPart,
  fc.record({ type: fc.constant('image_url'), image_url: fc.record({ url: fc.webUrl(), detail: fc.constantFrom('auto', 'low', 'high') }, { requiredKeys: ['url'] }) }),
  fc.record({ type: fc.constant('input_audio'), input_audio: fc.record({ data: fc.base64String({ maxLength: 40 }), format: fc.constantFrom('wav', 'mp3') }) }),
  fc.record({ type: fc.constant('file'), file: fc.record({ file_id: text, filename: text, file_data: fc.base64String({ maxLength: 40 }) }, { requiredKeys: [] }) }),
);
const assistantPart = fc.oneof(textPart, fc.record({ type: fc.constant('refusal'), refusal: text }));
const contentOf = (part: fc.Arbitrary<Json>) => fc.oneof(text, fc.array(part, { minLength: 1, maxLength: 3 }));
const toolCall = fc.record({ id: fc.string({ minLength: 1, maxLength: 12 }), type: fc.constant('function'), function: fc.record({ name: functionName, arguments: fc.json({ maxDepth: 2 }) }) });
const message = fc.oneof(
  fc.record({ role: fc.constant('system'), content: contentOf(textPart), name: text }, { requiredKeys: ['role', 'content'] }),
  fc.record({ role: fc.constant('developer'), content: contentOf(textPart), name: text }, { requiredKeys: ['role', 'content'] }),
  fc.record({ role: fc.constant('user'), content: contentOf(userPart), name: text }, { requiredKeys: ['role', 'content'] }),
  fc.record({ role: fc.constant('assistant'), content: contentOf(assistantPart), refusal: fc.option(text) }, { requiredKeys: ['role', 'content'] }),
  fc.record({ role: fc.constant('assistant'), content: fc.constant(null), tool_calls: fc.array(toolCall, { minLength: 1, maxLength: 2 }) }),
  fc.record({ role: fc.constant('tool'), tool_call_id: fc.string({ minLength: 1, maxLength: 12 }), content: contentOf(textPart) }),
);
const tool = fc.record({
  type: fc.constant('function'),
  function: fc.record({ name: functionName, description: text, parameters: jsonObject(3), strict: fc.option(fc.boolean()) }, { requiredKeys: ['name'] }),
});
const responseFormat = fc.oneof(
  fc.record({ type: fc.constantFrom('text', 'json_object') }),
  fc.record({ type: fc.constant('json_schema'), json_schema: fc.record({ name: functionName, schema: jsonObject(3), strict: fc.boolean() }, { requiredKeys: ['name'] }) }),
);

const validRequest: fc.Arbitrary<JsonObject> = fc
  .record(
    {
      model: fc.constantFrom('gpt-4o-mini', 'gpt-4.1-nano'),
      messages: fc.array(message, { minLength: 1, maxLength: 4 }),
      max_completion_tokens: fc.integer({ min: 1, max: 64 }),
      stream: fc.boolean(),
      temperature: fc.option(fc.double({ min: 0, max: 2, noNaN: true })),
      top_p: fc.option(fc.double({ min: 0, max: 1, noNaN: true })),
      n: fc.integer({ min: 1, max: 3 }),
      stop: fc.option(fc.oneof(text, fc.array(text, { minLength: 1, maxLength: 4 }))),
      tools: fc.array(tool, { minLength: 1, maxLength: 3 }),
      tool_choice: fc.oneof(fc.constantFrom('none', 'auto', 'required'), fc.record({ type: fc.constant('function'), function: fc.record({ name: functionName }) })),
      response_format: responseFormat,
      metadata: fc.dictionary(fc.string({ minLength: 1, maxLength: 64 }).filter((k) => !SPECIAL_KEYS.has(k)), fc.string({ maxLength: 512 }), { maxKeys: 16 }),
      seed: fc.integer(),
      logit_bias: fc.dictionary(fc.nat({ max: 200_000 }).map(String), fc.integer({ min: -100, max: 100 }), { maxKeys: 3 }),
      presence_penalty: fc.double({ min: -2, max: 2, noNaN: true }),
      store: fc.boolean(),
      reasoning_effort: fc.constantFrom('low', 'medium', 'high'),
      user: fc.string({ maxLength: 256 }),
    },
    { requiredKeys: ['model', 'messages', 'max_completion_tokens'] },
  )
  .map((request) => (request.stream ? { ...request, stream_options: { include_usage: true } } : request) as JsonObject);

// Mutations of a valid request: each replaces, removes, adds or inflates one thing somewhere in it.




const nested = (value: Json, depth: number, inArrays: boolean): Json => {
  let wrapped = value;
  for (let level = 0; level < depth; level++) wrapped = inArrays ? [wrapped] : { a: wrapped };
  return wrapped;
};

// Spaced words: a long run without a separator costs the tokenizer quadratic time (seconds at 60 k characters).
const hugeString = fc.tuple(fc.stringMatching(/^[a-z]{1,8}$/), fc.integer({ min: 5_000, max: 60_000 })).map(([word, times]) => `${word} `.repeat(times));
const outOfRange = fc.constantFrom(-1, 0, 3, 129, 1e308, -1e308, 0.5, 2 ** 31, -(2 ** 64), 2 ** 64);

type Mutation = (request: Json, path: Path) => Json;
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }).map((value): Mutation => (request, path) => changedAt(request, path, () => value as Json)),
  fc.constant<Mutation>((request, path) => changedAt(request, path, () => undefined)),
  fc.tuple(key, fc.jsonValue({ maxDepth: 2 })).map(([k, value]): Mutation => (request, path) =>
    changedAt(request, path, (old) => (typeof old === 'object' && old !== null && !Array.isArray(old) ? { ...old, [k]: value as Json } : { [k]: value as Json })),
  ),
  outOfRange.map((value): Mutation => (request, path) => changedAt(request, path, () => value)),
  fc.tuple(fc.integer({ min: 1, max: 300 }), fc.boolean()).map(([depth, inArrays]): Mutation => (request, path) => changedAt(request, path, (old) => nested(old, depth, inArrays))),
  hugeString.map((value): Mutation => (request, path) => changedAt(request, path, () => value)),
);

// Hostile input: what a body may hold before the validation pipe works on it, and what an identifier may not hold.

/** An object of `count` keys, built directly: fast-check's dictionaries of this size would take longer than the test. */
const wideObject = (count: number, keyOf: (index: number) => string): JsonObject => {
  const wide: JsonObject = {};
  for (let index = 0; index < count; index++) wide[keyOf(index)] = 0;
  return wide;
};
const wideCount = fc.integer({ min: 1_001, max: 150_000 });
/** C0, DEL and C1 control characters. */
const controlCharacter = fc.oneof(fc.integer({ min: 0, max: 0x1f }), fc.integer({ min: 0x7f, max: 0x9f })).map((code) => String.fromCharCode(code));
/** A name with a control character somewhere in it. */
const nameWithControlCharacter = fc
  .tuple(fc.string({ maxLength: 10 }), controlCharacter, fc.string({ maxLength: 10 }))
  .map(([before, control, after]) => `${before}${control}${after}`);
/** Where OpenAI takes an identifier, and the request that puts `name` there. */
const identifierFields: Array<[param: string, place: (request: JsonObject, name: string) => JsonObject]> = [
  ['model', (request, name) => ({ ...request, model: `gpt-4o-mini${name}` })],
  ['user', (request, name) => ({ ...request, user: name })],
  ['safety_identifier', (request, name) => ({ ...request, safety_identifier: name })],
  ['prompt_cache_key', (request, name) => ({ ...request, prompt_cache_key: name })],
  ['metadata', (request, name) => ({ ...request, metadata: { [name]: 'v' } })],
  ['messages[0].name', (request, name) => ({ ...request, messages: [{ role: 'user', content: 'hi', name }] })],
  ['tool_choice.function.name', (request, name) => ({ ...request, tools: [{ type: 'function', function: { name: 'f' } }], tool_choice: { type: 'function', function: { name } } })],
];
/** Beyond what a BIGINT or a JavaScript safe integer holds. */
const hugeCount = fc.oneof(fc.constantFrom(2 ** 53, 2 ** 63, 2 ** 64, 1e300, Number.MAX_VALUE), fc.double({ min: 2 ** 53, max: 1e308, noNaN: true }).map(Math.floor));
/** Beyond what fits a BIGINT in micro-USD. */
const hugeCost = fc.oneof(fc.constantFrom(1e15, 1e300), fc.double({ min: 9_007_199_255, max: 1e308, noNaN: true }));
const COUNT_LIMITS = ['requestsPerMinute', 'tokensPerMinute', 'requestsPerDay', 'tokensPerMonth', 'concurrentRequests', 'maxPromptTokens'];

describe('Request validation, property-based', () => {
  let gateway: GatewayUnderTest;

  beforeAll(async () => {
    gateway = await startGatewayWithSimulator();
  });
  afterAll(() => gateway.close());

  interface Answer {
    status: number;
    error?: { message: string; type: string; code: string | null; param: string | null };
  }

  /**
   * Sends a raw body and checks what every answer must be: a 2xx, or a 4xx in OpenAI's error shape
   * (never a 5xx, never HTML) after which the simulator has seen no new call.
   */
  async function send(body: string): Promise<Answer> {
    const callsBefore = gateway.simulator.calls().length;
    const response = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gateway.tenantKey}`, 'content-type': 'application/json' },
      body,
    });
    const text = await response.text();
    if (response.status >= 200 && response.status < 300) return { status: response.status };
    expect({ status: Math.floor(response.status / 100), contentType: response.headers.get('content-type') }).toEqual({ status: 4, contentType: expect.stringContaining('application/json') });
    const { error } = JSON.parse(text) as Required<Answer>;
    expect(error).toEqual({ message: expect.any(String), type: expect.any(String), code: error.code, param: error.param });
    expect([typeof error.code, typeof error.param].every((type, i) => type === 'string' || [error.code, error.param][i] === null)).toBe(true);
    expect(gateway.simulator.calls()).toHaveLength(callsBefore);
    return { status: response.status, error };
  }

  const runs = (numRuns: number) => ({ numRuns, seed: Number(process.env.FC_SEED ?? Date.now()) });

  it('should answer any JSON value with a 2xx or an OpenAI 4xx, never reaching the upstream with it', async () => {
    await fc.assert(fc.asyncProperty(fc.jsonValue(), async (value) => void (await send(JSON.stringify(value)))), runs(40));
  });

  it('should answer any text with a 2xx or an OpenAI 4xx', async () => {
    await fc.assert(fc.asyncProperty(fc.string({ maxLength: 200 }), async (body) => void (await send(body))), runs(20));
  });

  it('should pass every valid request to the upstream', async () => {
    await fc.assert(
      fc.asyncProperty(validRequest, async (request) => {
        const callsBefore = gateway.simulator.calls().length;

        const answer = await send(JSON.stringify(request));

        expect(answer).toEqual({ status: 200 });
        expect(gateway.simulator.calls()).toHaveLength(callsBefore + 1);
      }),
      runs(60),
    );
  });

  it('should answer any mutation of a valid request with a 2xx or an OpenAI 4xx: wrong types, unknown fields, out-of-range numbers, deep nesting, huge strings', async () => {
    const mutated = fc
      .tuple(validRequest, fc.nat(), mutation)
      .map(([request, pick, mutate]) => {
        const paths = pathsIn(request).slice(1); // a mutation of the whole body is the first test's
        return mutate(request, paths[pick % paths.length]);
      });

    await fc.assert(fc.asyncProperty(mutated, async (request) => void (await send(JSON.stringify(request)))), runs(120));
  });

  it('should refuse an unknown top-level field with 400 naming it', async () => {
    const unknownField = fc.string({ minLength: 1, maxLength: 20 }).filter((field) => !ALLOWED_FIELDS.has(field) && !SPECIAL_KEYS.has(field));

    await fc.assert(
      fc.asyncProperty(validRequest, unknownField, plainJsonValue, async (request, field, value) => {
        const answer = await send(JSON.stringify({ ...request, [field]: value }));

        expect(answer.status).toBe(400);
        expect(answer.error).toMatchObject({ type: 'invalid_request_error', param: field });
        expect(answer.error?.message).toContain('Allowed in the request: model, messages');
      }),
      runs(30),
    );
  });

  it('should refuse a value of the wrong JSON type for a top-level field with 400 naming it', async () => {
    const expectedType: Record<string, 'string' | 'number' | 'boolean'> = {
      model: 'string',
      temperature: 'number',
      top_p: 'number',
      n: 'number',
      max_tokens: 'number',
      seed: 'number',
      presence_penalty: 'number',
      stream: 'boolean',
      store: 'boolean',
      logprobs: 'boolean',
      parallel_tool_calls: 'boolean',
      user: 'string',
      reasoning_effort: 'string',
      service_tier: 'string',
    };
    const wrongValue = fc.tuple(fc.constantFrom(...Object.keys(expectedType)), plainJsonValue).filter(([field, value]) => value !== null && typeof value !== expectedType[field]);

    await fc.assert(
      fc.asyncProperty(validRequest, wrongValue, async (request, [field, value]) => {
        const answer = await send(JSON.stringify({ ...request, [field]: value }));

        expect(answer.status).toBe(400);
        expect(answer.error).toMatchObject({ type: 'invalid_request_error', param: field });
      }),
      runs(30),
    );
  });

  describe('hostile input', () => {
    const minimalRequest: JsonObject = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], max_completion_tokens: 8 };

    it('should refuse an object of more than 1,000 keys anywhere in a body with 400, before validating it', async () => {
      const place = fc.constantFrom<Array<(wide: JsonObject) => JsonObject>>(
        (wide) => ({ ...wide, ...minimalRequest }),
        (wide) => ({ ...minimalRequest, metadata: wide }),
        (wide) => ({ ...minimalRequest, tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object', properties: wide } } }] }),
        (wide) => ({ ...minimalRequest, messages: [{ role: 'user', content: [{ type: 'text', text: 'hi', ...wide }] }] }),
      );

      await fc.assert(
        fc.asyncProperty(wideCount, place, async (count, put) => {
          const answer = await send(JSON.stringify(put(wideObject(count, (index) => `k${index}`))));

          expect(answer.status).toBe(400);
          expect(answer.error?.message).toContain('more than 1000 keys');
        }),
        runs(8),
      );
    });

    it('should refuse a logit_bias of more than 300 entries with 400 naming it', async () => {
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 301, max: 250_000 }), async (count) => {
          const answer = await send(JSON.stringify({ ...minimalRequest, logit_bias: wideObject(count, String) }));

          expect(answer).toMatchObject({ status: 400, error: { param: 'logit_bias' } });
        }),
        runs(8),
      );
    });

    it('should refuse a control character in any identifier with 400 naming it', async () => {
      await fc.assert(
        fc.asyncProperty(fc.constantFrom(...identifierFields), nameWithControlCharacter, async ([param, place], name) => {
          const answer = await send(JSON.stringify(place(minimalRequest, name)));

          expect(answer).toMatchObject({ status: 400, error: { type: 'invalid_request_error', param } });
        }),
        runs(40),
      );
    });

    it('should refuse admin limits beyond BIGINT or the safe integers with 400 naming the field, and take those within', async () => {
      const admin = adminClient(gateway.url);
      const tenant = 'property-limits';
      expect((await admin.post('/admin/tenants', { id: tenant, name: tenant })).status).toBe(201);
      const outOfRange = fc.oneof(
        fc.tuple(fc.constantFrom(...COUNT_LIMITS), hugeCount),
        fc.tuple(fc.constant('costPerMonthUsd'), hugeCost),
      );
      const inRange = fc.oneof(
        fc.tuple(fc.constantFrom(...COUNT_LIMITS), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER })),
        fc.tuple(fc.constant('costPerMonthUsd'), fc.double({ min: 0, max: 9_007_199_254, noNaN: true })),
      );

      await fc.assert(
        fc.asyncProperty(outOfRange, inRange, async ([field, huge], [fittingField, fitting]) => {
          const refused = await admin.put(`/admin/tenants/${tenant}/quota`, { [field]: huge });
          const taken = await admin.put(`/admin/tenants/${tenant}/quota`, { [fittingField]: fitting });

          expect({ status: refused.status, param: refused.body.error?.param }).toEqual({ status: 400, param: field });
          expect(taken.status).toBe(200);
        }),
        runs(30),
      );
    });
  });
});
