import { ValidationPipe } from '@nestjs/common';
import fc from 'fast-check';
import { ChatCompletionRequestDto } from '../chat/chat-completion-request.dto';
import { AsyncChatCompletionRequestDto } from '../jobs/async-chat-completion-request.dto';
import { GatewayHttpException } from './gateway-http.exception';
import { createValidationPipe, OpenAiValidationPipe } from './validation.pipe';
import { changedAt, Json, JsonObject, Path, pathsIn } from '../../test/support/json-paths';

// Valid bodies, field by field as OpenAI takes them.

const text = fc.string({ maxLength: 12 });
const functionName = fc.stringMatching(/^[a-zA-Z0-9_-]{1,16}$/);
const jsonObject = fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<Json>, { maxKeys: 3 });
const textPart = fc.record({ type: fc.constant('text'), text });
const userPart = fc.oneof(
  textPart,
  fc.record({ type: fc.constant('image_url'), image_url: fc.record({ url: fc.constantFrom('https://x/y.png', 'data:image/png;base64,AA'), detail: fc.constantFrom('auto', 'low', 'high') }, { requiredKeys: ['url'] }) }),
  fc.record({ type: fc.constant('input_audio'), input_audio: fc.record({ data: fc.base64String({ maxLength: 8 }), format: fc.constantFrom('wav', 'mp3') }) }),
  fc.record({ type: fc.constant('file'), file: fc.record({ file_id: text, filename: text, file_data: fc.base64String({ maxLength: 8 }) }, { requiredKeys: [] }) }),
);
const assistantPart = fc.oneof(textPart, fc.record({ type: fc.constant('refusal'), refusal: text }));
const contentOf = (part: fc.Arbitrary<Json>) => fc.oneof(text, fc.array(part, { minLength: 1, maxLength: 2 }));
const toolCall = fc.record({ id: fc.string({ minLength: 1, maxLength: 6 }), type: fc.constant('function'), function: fc.record({ name: functionName, arguments: fc.json({ maxDepth: 1 }) }) });
const message = fc.oneof(
  fc.record({ role: fc.constantFrom('system', 'developer'), content: contentOf(textPart), name: text }, { requiredKeys: ['role', 'content'] }),
  fc.record({ role: fc.constant('user'), content: contentOf(userPart), name: text }, { requiredKeys: ['role', 'content'] }),
  fc.record(
    { role: fc.constant('assistant'), content: contentOf(assistantPart), refusal: fc.option(text), name: text, tool_calls: fc.array(toolCall, { minLength: 1, maxLength: 2 }), audio: fc.option(fc.record({ id: text })) },
    { requiredKeys: ['role', 'content'] },
  ),
  fc.record({ role: fc.constant('assistant'), content: fc.constant(null), tool_calls: fc.array(toolCall, { minLength: 1, maxLength: 2 }) }),
  fc.record({ role: fc.constant('tool'), tool_call_id: fc.string({ minLength: 1, maxLength: 6 }), content: contentOf(textPart) }),
);
const tool = fc.record({
  type: fc.constant('function'),
  function: fc.record({ name: functionName, description: text, parameters: jsonObject, strict: fc.option(fc.boolean()) }, { requiredKeys: ['name'] }),
});
const responseFormat = fc.oneof(
  fc.record({ type: fc.constantFrom('text', 'json_object') }),
  fc.record({ type: fc.constant('json_schema'), json_schema: fc.record({ name: functionName, description: text, schema: jsonObject, strict: fc.option(fc.boolean()) }, { requiredKeys: ['name'] }) }),
);
const optionalNumber = (min: number, max: number) => fc.option(fc.double({ min, max, noNaN: true }));

const validBody: fc.Arbitrary<JsonObject> = fc
  .record(
    {
      model: fc.constantFrom('gpt-4o-mini', 'gpt-4.1-nano'),
      messages: fc.array(message, { minLength: 1, maxLength: 3 }),
      stream: fc.option(fc.boolean()),
      max_tokens: fc.option(fc.integer({ min: 1, max: 100 })),
      max_completion_tokens: fc.option(fc.integer({ min: 1, max: 100 })),
      temperature: optionalNumber(0, 2),
      top_p: optionalNumber(0, 1),
      n: fc.option(fc.integer({ min: 1, max: 128 })),
      stop: fc.option(fc.oneof(text, fc.array(text, { minLength: 1, maxLength: 4 }))),
      tools: fc.array(tool, { minLength: 1, maxLength: 2 }),
      tool_choice: fc.oneof(fc.constantFrom('none', 'auto', 'required'), fc.record({ type: fc.constant('function'), function: fc.record({ name: functionName }) })),
      response_format: responseFormat,
      metadata: fc.option(fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), fc.string({ maxLength: 8 }), { maxKeys: 3 })),
      store: fc.option(fc.boolean()),
      reasoning_effort: fc.option(fc.constantFrom('low', 'medium', 'high')),
      modalities: fc.option(fc.array(fc.constantFrom('text', 'audio'), { maxLength: 2 })),
      audio: fc.option(jsonObject),
      parallel_tool_calls: fc.boolean(),
      logprobs: fc.option(fc.boolean()),
      top_logprobs: fc.option(fc.integer({ min: 0, max: 20 })),
      seed: fc.option(fc.integer()),
      logit_bias: fc.option(fc.dictionary(fc.nat({ max: 1000 }).map(String), fc.integer({ min: -100, max: 100 }), { maxKeys: 2 })),
      user: text,
      safety_identifier: fc.option(text),
    },
    { requiredKeys: ['model', 'messages'] },
  )
  .map((body) => (body.stream === true ? { ...body, stream_options: { include_usage: true } } : body));

// Mutations: each replaces, removes, adds or wraps one thing somewhere in a body.

/** Where a wrong value most often changes which rule answers: other roles and types, empty and nested shapes, inherited names. */
const trickyValue = fc.constantFrom<Json>(
  null, true, 0, -1, 1.5, 129, 2 ** 31, 1e308, '', 'x', 'a\u0000b', 'auto', 'function', 'text', 'image_url', 'refusal', 'json_schema', 'user', 'assistant', 'tool', 'toString',
  [], [[]], [null], ['x'], [1], [{}], {}, { type: 'text' }, { role: 'user' }, { type: 'function' }, { name: 'f' }, { url: 'u' }, { include_usage: 1 }, { toString: 1 },
);
const anyValue = fc.oneof(trickyValue, fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<Json>);
const trickyKey = fc.oneof(
  fc.constantFrom('toString', 'valueOf', 'hasOwnProperty', 'isPrototypeOf', '__defineGetter__', 'constructor', 'prototype', '__proto__', '0', '1', '', 'foo'),
  fc.constantFrom('role', 'type', 'content', 'name', 'tool_calls', 'tool_call_id', 'refusal', 'audio', 'json_schema', 'function', 'text', 'stream', 'webhook_url', 'metadata'),
  fc.string({ maxLength: 6 }),
);

type Mutation = (body: Json, path: Path) => Json;
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  anyValue.map((value): Mutation => (body, path) => changedAt(body, path, () => value)),
  fc.constant<Mutation>((body, path) => changedAt(body, path, () => undefined)),
  fc.tuple(trickyKey, anyValue).map(([key, value]): Mutation => (body, path) => changedAt(body, path, (old) => (isJsonObject(old) ? withKey(old, key, value) : old))),
  fc.boolean().map((inArray): Mutation => (body, path) => changedAt(body, path, (old) => (inArray ? [old] : { a: old }))),
);



/** Defined, not assigned: `__proto__` becomes a key, as JSON.parse makes it one. */
function withKey(object: JsonObject, key: string, value: Json): JsonObject {
  return Object.defineProperty({ ...object }, key, { value, enumerable: true, writable: true, configurable: true });
}

function isJsonObject(value: Json): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const mutatedBody = fc.tuple(validBody, fc.array(fc.tuple(fc.nat(), mutation), { minLength: 1, maxLength: 3 })).map(([body, mutations]) =>
  mutations.reduce<Json>((mutated, [pick, mutate]) => {
    const paths = pathsIn(mutated);
    return mutate(mutated, paths[pick % paths.length]);
  }, body),
);
const webhookUrl = fc.option(fc.oneof(fc.constant<Json>('https://hooks.example.com/done'), anyValue), { nil: undefined });
const asyncBody = fc
  .tuple(fc.oneof(validBody, mutatedBody), webhookUrl)
  .map(([body, url]) => (url === undefined || !isJsonObject(body) ? body : { ...body, webhook_url: url }));

// What each pipe makes of the same JSON text.

type DtoClass = new () => object;

interface Outcome {
  /** The value handed to the controller, as JSON (the order of its keys included) and as a value. */
  accepted?: { json: string; value: unknown };
  refused?: { status: number; message: string; param: string | null; type: string; code: string | null };
  /** The body after the pipe, which strips prototype keys in place. */
  bodyAfter: string | undefined;
}

const classValidatorPipe = new OpenAiValidationPipe();
const compiledPipe = createValidationPipe();

async function outcomeOf(pipe: ValidationPipe, json: string | undefined, dto: DtoClass): Promise<Outcome> {
  const body: unknown = json === undefined ? undefined : JSON.parse(json);
  try {
    const value: unknown = await pipe.transform(body, { type: 'body', metatype: dto, data: undefined });
    return { accepted: { json: JSON.stringify(value), value }, bodyAfter: JSON.stringify(body) };
  } catch (error) {
    if (!(error instanceof GatewayHttpException)) throw error;
    return { refused: { status: error.getStatus(), ...error.fields }, bodyAfter: JSON.stringify(body) };
  }
}

/** Every prototype of an object in `value` that is neither Object's nor Array's. */
function classInstancesIn(value: unknown): string[] {
  if (typeof value !== 'object' || value === null) return [];
  const prototype: unknown = Object.getPrototypeOf(value);
  const plain = prototype === Object.prototype || prototype === Array.prototype;
  const own = plain ? [] : [String((prototype as { constructor?: { name?: string } }).constructor?.name)];
  return [...own, ...Object.values(value).flatMap(classInstancesIn)];
}

async function expectSameOutcome(body: Json | undefined, dto: DtoClass): Promise<Outcome> {
  const json = body === undefined ? undefined : JSON.stringify(body);
  const expected = await outcomeOf(classValidatorPipe, json, dto);
  const actual = await outcomeOf(compiledPipe, json, dto);

  expect(actual).toEqual(expected);
  expect(classInstancesIn(actual.accepted?.value)).toEqual([]);
  return actual;
}

const runs = (numRuns: number) => ({ numRuns, seed: Number(process.env.FC_SEED ?? Date.now()) });

describe('The compiled validator against class-validator, property-based', () => {
  it('should accept every valid body as class-validator does, handing the controller the same fields in the same order', async () => {
    await fc.assert(
      fc.asyncProperty(validBody, async (body) => {
        const outcome = await expectSameOutcome(body, ChatCompletionRequestDto);

        expect(outcome.refused).toBeUndefined();
      }),
      runs(500),
    );
  });

  it('should accept or refuse every mutated body as class-validator does, with the same message and param', async () => {
    await fc.assert(fc.asyncProperty(mutatedBody, async (body) => void (await expectSameOutcome(body, ChatCompletionRequestDto))), runs(3000));
  });

  it('should validate the async job body as class-validator does, its webhook_url included', async () => {
    await fc.assert(fc.asyncProperty(asyncBody, async (body) => void (await expectSameOutcome(body, AsyncChatCompletionRequestDto))), runs(1000));
  });

  it('should answer any JSON value, and no body, as class-validator does', async () => {
    const anyBody = fc.option(fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json>, { nil: undefined });

    await fc.assert(fc.asyncProperty(anyBody, async (body) => void (await expectSameOutcome(body, ChatCompletionRequestDto))), runs(300));
  });

  // Not a property, but the cases test/validation.e2e-spec.ts names, so that each has been seen whatever the seed.
  it.each<[string, Json]>([
    ['an unknown top-level field', { foo: 1 }],
    ['a field named after an inherited member', { valueOf: 1 }],
    ['a constructor and a prototype, which Nest strips', { constructor: 1, prototype: { a: 1 }, metadata: { constructor: 'x', k: 'v' } }],
    ['a message field named after an inherited member', { messages: [{ role: 'user', content: 'x', toString: 'y' }] }],
    ['a nested field named after an inherited member', { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'u', valueOf: 1 } }] }] }],
    ['a null message', { messages: [null] }],
    ['an array as a message', { messages: [[]] }],
    ['an array as a content part', { messages: [{ role: 'user', content: [[{ type: 'text', text: 'a' }]] }] }],
    ['an array as a tool call', { messages: [{ role: 'assistant', tool_calls: [[]] }] }],
    ['an array as a tool', { tools: [[]] }],
    ['an unknown role', { messages: [{ role: 'function', content: 'x', name: 'f' }] }],
    ['a message without a role', { messages: [{ content: 'x' }] }],
    ['a field of another role', { messages: [{ role: 'user', content: 'x', tool_call_id: 'c1' }] }],
    ['an assistant message without content or tool calls', { messages: [{ role: 'user', content: 'x' }, { role: 'assistant' }] }],
    ['a tool_choice without function', { tool_choice: { type: 'function' } }],
    ['a json_schema on a text format', { response_format: { type: 'text', json_schema: { name: 'x' } } }],
    ['stream_options without stream', { stream_options: { include_usage: true } }],
    ['an unknown stream option', { stream: true, stream_options: { include_costs: true } }],
    ['a tool whose JSON Schema names inherited members', { tools: [{ type: 'function', function: { name: 'f', parameters: { properties: { toString: { type: 'string' } } } } }] }],
    ['17 metadata pairs', { metadata: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 'v'])) }],
  ])('should answer %s as class-validator does', async (_case, patch) => {
    await expectSameOutcome({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Say hello.' }], ...(patch as JsonObject) }, ChatCompletionRequestDto);
  });
});
