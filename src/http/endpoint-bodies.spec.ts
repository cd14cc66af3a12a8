import fc from 'fast-check';
import { EmbeddingRequestDto } from '../embeddings/embedding-request.dto';
import { ResponseRequestDto } from '../responses/response-request.dto';
import { changedAt, Json, JsonObject, pathsIn } from '../../test/support/json-paths';
import { GatewayHttpException } from './gateway-http.exception';
import { createValidationPipe, OpenAiValidationPipe } from './validation.pipe';

type DtoClass = new () => object;

const text = fc.string({ maxLength: 12 });
const jsonObject = fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<Json>, { maxKeys: 3 });

const embeddingBody: fc.Arbitrary<JsonObject> = fc.record(
  {
    model: fc.constantFrom('text-embedding-3-small', 'text-embedding-3-large'),
    input: fc.oneof(
      fc.string({ minLength: 1, maxLength: 12 }),
      fc.array(fc.string({ minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 3 }),
      fc.array(fc.nat({ max: 100_000 }), { minLength: 1, maxLength: 4 }),
      fc.array(fc.array(fc.nat({ max: 100_000 }), { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 2 }),
    ),
    dimensions: fc.integer({ min: 1, max: 3072 }),
    encoding_format: fc.constantFrom('float', 'base64'),
    user: text,
  },
  { requiredKeys: ['model', 'input'] },
);

const inputItem = fc.oneof(
  fc.record({ role: fc.constantFrom('user', 'system', 'developer'), content: text }),
  fc.record({ role: fc.constant('user'), content: fc.array(fc.record({ type: fc.constant('input_text'), text }), { minLength: 1, maxLength: 2 }) }),
  fc.record({ type: fc.constant('function_call_output'), call_id: text, output: text }),
);
const responseBody: fc.Arbitrary<JsonObject> = fc
  .record(
    {
      model: fc.constantFrom('gpt-4o-mini', 'o4-mini'),
      input: fc.oneof(fc.string({ minLength: 1, maxLength: 12 }), fc.array(inputItem, { minLength: 1, maxLength: 2 })),
      instructions: fc.option(text),
      max_output_tokens: fc.option(fc.integer({ min: 1, max: 1000 })),
      temperature: fc.option(fc.double({ min: 0, max: 2, noNaN: true })),
      stream: fc.option(fc.boolean()),
      tools: fc.array(fc.record({ type: fc.constant('function'), name: text, parameters: jsonObject }), { maxLength: 2 }),
      tool_choice: fc.oneof(fc.constantFrom('none', 'auto', 'required'), fc.record({ type: fc.constant('function'), name: text })),
      text: fc.record({ format: fc.record({ type: fc.constant('text') }) }),
      reasoning: fc.option(fc.record({ effort: fc.constantFrom('low', 'high') })),
      metadata: fc.option(fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), fc.string({ maxLength: 8 }), { maxKeys: 3 })),
      previous_response_id: fc.option(text),
      store: fc.option(fc.boolean()),
      user: text,
    },
    { requiredKeys: ['model'] },
  )
  .map((body) => (body.stream === true ? { ...body, stream_options: { include_obfuscation: false } } : body));

const trickyValue = fc.constantFrom<Json>(null, true, 0, -1, 1.5, 2 ** 31, '', 'x', 'a\u0000b', 'toString', [], [[]], [null], ['x'], [1], [{}], {}, { type: 'x' });
const trickyKey = fc.constantFrom('toString', 'valueOf', 'constructor', '__proto__', 'foo', 'background', 'stream_options', 'model');

/** One value replaced, removed or added somewhere in the body. */
const mutated = (valid: fc.Arbitrary<JsonObject>) =>
  fc.tuple(valid, fc.nat(), fc.oneof(trickyValue, fc.constant(undefined)), trickyKey).map(([body, pick, value, key]) => {
    const paths = pathsIn(body);
    const path = paths[pick % paths.length];
    if (path.length === 0) return Object.defineProperty({ ...body }, key, { value: value ?? 1, enumerable: true, writable: true, configurable: true });
    return changedAt(body, path, () => value);
  });

const classValidatorPipe = new OpenAiValidationPipe();
const compiledPipe = createValidationPipe();

async function outcomeOf(pipe: OpenAiValidationPipe | ReturnType<typeof createValidationPipe>, json: string, dto: DtoClass): Promise<unknown> {
  try {
    const value: unknown = await pipe.transform(JSON.parse(json), { type: 'body', metatype: dto, data: undefined });
    return { accepted: JSON.stringify(value) };
  } catch (error) {
    if (!(error instanceof GatewayHttpException)) throw error;
    return { refused: { status: error.getStatus(), ...error.fields } };
  }
}

async function expectSameOutcome(body: Json, dto: DtoClass): Promise<unknown> {
  const json = JSON.stringify(body);
  const actual = await outcomeOf(compiledPipe, json, dto);
  expect(actual).toEqual(await outcomeOf(classValidatorPipe, json, dto));
  return actual;
}

const runs = (numRuns: number) => ({ numRuns, seed: Number(process.env.FC_SEED ?? Date.now()) });

describe('The bodies of POST /v1/embeddings and POST /v1/responses, compiled and by class-validator', () => {
  it.each<[string, DtoClass, fc.Arbitrary<JsonObject>]>([
    ['an embeddings request', EmbeddingRequestDto, embeddingBody],
    ['a Responses API request', ResponseRequestDto, responseBody],
  ])('should accept every valid body of %s as class-validator does, fields in the same order', async (_name, dto, valid) => {
    await fc.assert(fc.asyncProperty(valid, async (body) => expect(await expectSameOutcome(body, dto)).toHaveProperty('accepted')), runs(300));
  });

  it.each<[string, DtoClass, fc.Arbitrary<JsonObject>]>([
    ['an embeddings request', EmbeddingRequestDto, embeddingBody],
    ['a Responses API request', ResponseRequestDto, responseBody],
  ])('should accept or refuse every mutated body of %s as class-validator does, with the same message and param', async (_name, dto, valid) => {
    await fc.assert(fc.asyncProperty(mutated(valid), async (body) => void (await expectSameOutcome(body, dto))), runs(1000));
  });
});
