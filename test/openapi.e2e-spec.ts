import { ChatCompletionRequestDto } from '../src/chat/chat-completion-request.dto';
import { EmbeddingRequestDto } from '../src/embeddings/embedding-request.dto';
import { compileValidator, FieldProblem } from '../src/http/compiled-validator';
import { AsyncChatCompletionRequestDto } from '../src/jobs/async-chat-completion-request.dto';
import { ResponseRequestDto } from '../src/responses/response-request.dto';
import { JobsClient } from './support/jobs-client';
import { Json, JsonObject } from './support/json-paths';
import { accepts, corpusOf, OpenApiDocument, Operation, paramAt, refsIn, resolve, sampleOf, Schema } from './support/openapi-document';
import { ADMIN_TOKEN, aUserMessage, GatewayUnderTest, startGatewayWithSimulator, UPSTREAM_KEY } from './support/gateway-harness';

type Method = 'get' | 'post' | 'delete';

const UPSTREAM_CALL = [400, 401, 403, 404, 413, 415, 429, 500, 502, 503, 504];

/** Every route of the tenant API, its success, and the errors it can answer with. */
const TENANT_ROUTES: Array<[method: Method, path: string, success: string, errors: number[]]> = [
  ['post', '/v1/chat/completions', '200', UPSTREAM_CALL],
  ['post', '/v1/embeddings', '200', UPSTREAM_CALL],
  ['post', '/v1/responses', '200', UPSTREAM_CALL],
  ['post', '/v1/async/chat/completions', '202', [400, 401, 403, 404, 413, 415, 429, 500, 503]],
  ['get', '/v1/async/jobs/{id}', '200', [401, 404, 500, 503]],
  ['delete', '/v1/async/jobs/{id}', '200', [401, 404, 500, 503]],
  ['get', '/v1/models', '200', [401, 500, 502, 503, 504]],
  ['get', '/v1/models/{id}', '200', [401, 404, 500, 502, 503, 504]],
];

/** Each validated request body, and the DTO that validates it. */
const BODIES: Array<[path: string, dto: new () => object]> = [
  ['/v1/chat/completions', ChatCompletionRequestDto],
  ['/v1/async/chat/completions', AsyncChatCompletionRequestDto],
  ['/v1/embeddings', EmbeddingRequestDto],
  ['/v1/responses', ResponseRequestDto],
];

/**
 * Rules across fields that a schema cannot state (its descriptions say them), kept true in every body
 * of a corpus: `stream_options` only with `stream: true`; an assistant message's content unless it has
 * tool calls or audio.
 */
const PINNED: Record<string, JsonObject> = {
  ChatCompletionRequestDto: { stream: true },
  AsyncChatCompletionRequestDto: { stream: true },
  ResponseRequestDto: { stream: true },
  AssistantMessageDto: { content: 'a' },
};

const OFFLINE_STATUS_PAGE = { OPENAI_STATUS_URL: 'http://127.0.0.1:1/api/v2/status.json' };

describe('OpenAPI document', () => {
  let gateway: GatewayUnderTest;
  let document: OpenApiDocument;

  beforeAll(async () => {
    gateway = await startGatewayWithSimulator(OFFLINE_STATUS_PAGE);
    const response = await fetch(`${gateway.url}/docs-json`);
    expect(response.status).toBe(200);
    document = (await response.json()) as OpenApiDocument;
  });
  afterAll(() => gateway.close());

  const operation = (method: string, path: string): Operation => {
    const found = document.paths[path]?.[method];
    if (!found) throw new Error(`The document has no ${method.toUpperCase()} ${path}`);
    return found;
  };
  const answerSchema = (method: string, path: string, status: string, media = 'application/json'): Schema => {
    const schema = operation(method, path).responses[status]?.content?.[media]?.schema;
    if (!schema) throw new Error(`${method.toUpperCase()} ${path} describes no ${status} ${media} answer`);
    return schema;
  };
  const expectDescribed = (schema: Schema, value: unknown) => expect({ value, accepted: accepts(document, schema, value as Json) }).toEqual({ value, accepted: true });

  describe('the document', () => {
    it('should be OpenAPI 3.0, its every $ref naming a schema of it and its operation ids unique', () => {
      expect(document.openapi).toMatch(/^3\.0\.\d+$/);
      const unresolved = [...new Set(refsIn(document))].filter((ref) => !(ref.slice('#/components/schemas/'.length) in document.components.schemas));
      expect(unresolved).toEqual([]);
      const operations = Object.values(document.paths).flatMap((methods) => Object.values(methods));
      expect(new Set(operations.map((op) => op.operationId)).size).toBe(operations.length);
      for (const op of operations) expect(Object.keys(op.responses).length).toBeGreaterThan(0);
    });

    it('should name a bearer scheme for tenants, operators and Prometheus', () => {
      expect(document.components.securitySchemes).toEqual({
        tenant: expect.objectContaining({ type: 'http', scheme: 'bearer' }),
        admin: expect.objectContaining({ type: 'http', scheme: 'bearer' }),
        metrics: expect.objectContaining({ type: 'http', scheme: 'bearer' }),
      });
    });

    it('should describe the probes, open, and the metrics as Prometheus text behind the metrics token', async () => {
      for (const path of ['/health/live', '/health/ready', '/health/upstream']) {
        expect({ path, security: operation('get', path).security, answers: Object.keys(operation('get', path).responses) }).toEqual({
          path,
          security: undefined,
          answers: expect.arrayContaining(['200']),
        });
      }
      const metrics = operation('get', '/metrics');
      const served = await fetch(`${gateway.url}/metrics`);
      expect(metrics.security).toEqual([{ metrics: [] }]);
      expect(Object.keys(metrics.responses[200].content ?? {})).toEqual([served.headers.get('content-type')]);
      expect(metrics.responses[200].content?.[served.headers.get('content-type')!].schema).toEqual(expect.objectContaining({ type: 'string' }));
      expect(await served.text()).toContain('# TYPE tollgate_');
    });
  });

  describe('the tenant API', () => {
    it('should list every /v1 route', () => {
      const described = Object.entries(document.paths)
        .filter(([path]) => path.startsWith('/v1'))
        .flatMap(([path, methods]) => Object.keys(methods).map((method) => `${method} ${path}`));
      expect(described.sort()).toEqual(TENANT_ROUTES.map(([method, path]) => `${method} ${path}`).sort());
    });

    it.each(TENANT_ROUTES)('should describe %s %s behind the tenant key, with its answer and its errors in OpenAI’s shape', (method, path, success, errors) => {
      const described = operation(method, path);
      expect(described.security).toEqual([{ tenant: [] }]);
      const answer = resolve(document, answerSchema(method, path, success)).schema;
      expect(Object.keys(answer.properties ?? {}).length).toBeGreaterThan(0);
      const statuses = Object.keys(described.responses).filter((status) => Number(status) >= 400);
      expect(statuses.map(Number).sort((a, b) => a - b)).toEqual(errors);
      for (const status of statuses) {
        expect({ status, schema: answerSchema(method, path, status) }).toEqual({ status, schema: { $ref: '#/components/schemas/OpenAiErrorDto' } });
        expect(described.responses[status].description).not.toBe('');
        if (status === '429' || status === '503') expect(Object.keys(described.responses[status].headers ?? {})).toEqual(['retry-after', 'retry-after-ms']);
      }
    });

    it('should describe the streams as server-sent events of their chunks and events', () => {
      const chunk = answerSchema('post', '/v1/chat/completions', '200', 'text/event-stream');
      expect(chunk.oneOf?.map((schema) => resolve(document, schema).name)).toEqual(['ChatCompletionChunkDto', 'OpenAiErrorDto']);
      expect(resolve(document, answerSchema('post', '/v1/responses', '200', 'text/event-stream')).schema.required).toEqual(['type', 'sequence_number']);
    });
  });

  describe('the request bodies', () => {
    const bodySchema = (path: string): Schema => {
      const body = operation('post', path).requestBody;
      expect(body?.required).toBe(true);
      return body!.content['application/json'].schema!;
    };

    it.each(BODIES)('should describe the body of POST %s exactly as its validator accepts it', (path, dto) => {
      const schema = bodySchema(path);
      const validate = compileValidator(dto);
      const valid = sampleOf(document, schema, PINNED);
      expect(Object.keys(resolve(document, schema).schema.properties ?? {}).length).toBeGreaterThan(0);
      expect(validate(valid as Record<string, unknown>).problem).toBeUndefined();

      const disagreements: unknown[] = [];
      let bodies = 0;
      for (const { change, body, declared } of corpusOf(document, schema, valid, PINNED)) {
        bodies++;
        const { problem } = validate(body as Record<string, unknown>);
        const bySchema = accepts(document, schema, body);
        if (bySchema !== (problem === undefined)) disagreements.push({ change, schema: bySchema ? 'accepts' : 'refuses', validator: verdictOf(problem) });
        if (declared && problem?.kind === 'unknownField' && !sameMembers(problem.allowed, declared)) {
          disagreements.push({ change, schemaProperties: declared, validatorFields: problem.allowed });
        }
      }
      expect(bodies).toBeGreaterThan(100);
      expect(disagreements.slice(0, 10)).toEqual([]);
    });

    it('should say in the descriptions what the schema cannot', () => {
      const { properties } = resolve(document, bodySchema('/v1/chat/completions')).schema;
      expect(properties?.stream_options.description).toContain('Only with `stream: true`.');
      expect(resolve(document, { $ref: '#/components/schemas/AssistantMessageDto' }).schema.properties?.content.description).toContain(
        'Required unless tool_calls or audio is set.',
      );
    });
  });

  describe('what the gateway answers', () => {
    const tenant = (path: string, body?: object, key = gateway.tenantKey) =>
      fetch(`${gateway.url}${path}`, {
        method: body ? 'POST' : 'GET',
        headers: { authorization: `Bearer ${key}`, ...(body && { 'content-type': 'application/json' }) },
        body: body && JSON.stringify(body),
      });
    const chat = { model: 'gpt-4o-mini', messages: aUserMessage(), max_completion_tokens: 20 };

    it('should be described: a completion, its stream, embeddings, a response, its stream, the models', async () => {
      expectDescribed(answerSchema('post', '/v1/chat/completions', '200'), await (await tenant('/v1/chat/completions', chat)).json());
      const chunks = dataOf(await (await tenant('/v1/chat/completions', { ...chat, stream: true, stream_options: { include_usage: true } })).text());
      expect(chunks.at(-1)).toBe('[DONE]');
      for (const data of chunks.slice(0, -1)) expectDescribed(answerSchema('post', '/v1/chat/completions', '200', 'text/event-stream'), JSON.parse(data));
      expectDescribed(answerSchema('post', '/v1/embeddings', '200'), await (await tenant('/v1/embeddings', { model: 'text-embedding-3-small', input: ['a', 'b'] })).json());
      expectDescribed(answerSchema('post', '/v1/responses', '200'), await (await tenant('/v1/responses', { model: 'gpt-4o-mini', input: 'Say hello.' })).json());
      const events = dataOf(await (await tenant('/v1/responses', { model: 'gpt-4o-mini', input: 'Say hello.', stream: true })).text());
      expect(events.length).toBeGreaterThan(1);
      for (const data of events) expectDescribed(answerSchema('post', '/v1/responses', '200', 'text/event-stream'), JSON.parse(data));
      const models = (await (await tenant('/v1/models')).json()) as { data: Array<{ id: string }> };
      expectDescribed(answerSchema('get', '/v1/models', '200'), models);
      expectDescribed(answerSchema('get', '/v1/models/{id}', '200'), await (await tenant(`/v1/models/${models.data[0].id}`)).json());
    });

    it('should be described: a job as submitted and as finished', async () => {
      const jobs = new JobsClient(gateway.url, gateway.tenantKey);
      const submitted = await jobs.submit(chat);
      expect(submitted.status).toBe(202);
      expectDescribed(answerSchema('post', '/v1/async/chat/completions', '202'), submitted.body);
      const finished = await jobs.finished(submitted.body.id);
      expect(finished.status).toBe('succeeded');
      expectDescribed(answerSchema('get', '/v1/async/jobs/{id}', '200'), finished);
    });

    it('should be described: errors, and the upstream’s health', async () => {
      const wrongKey = await tenant('/v1/chat/completions', chat, 'tg-not-a-key');
      const unknownModel = await tenant('/v1/models/no-such-model');
      expect([wrongKey.status, unknownModel.status]).toEqual([401, 404]);
      expectDescribed(answerSchema('post', '/v1/chat/completions', '401'), await wrongKey.json());
      expectDescribed(answerSchema('get', '/v1/models/{id}', '404'), await unknownModel.json());
      expectDescribed(answerSchema('get', '/health/upstream', '200'), await (await fetch(`${gateway.url}/health/upstream`)).json());
    });
  });
});

describe('DOCS_ENABLED', () => {
  const production = { NODE_ENV: 'production', METRICS_TOKEN: 'e2e-metrics-token-0123456789', OPENAI_API_KEY: UPSTREAM_KEY, ADMIN_TOKEN };

  async function docsOf(env: Record<string, string>): Promise<Array<{ path: string; status: number; body: unknown }>> {
    const gateway = await startGatewayWithSimulator({ ...OFFLINE_STATUS_PAGE, ...env });
    try {
      return await Promise.all(
        ['/docs', '/docs-json'].map(async (path) => {
          const response = await fetch(`${gateway.url}${path}`);
          const text = await response.text();
          return { path, status: response.status, body: response.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text.slice(0, 40) };
        }),
      );
    } finally {
      await gateway.close();
    }
  }

  const notFound = (path: string) => ({
    path,
    status: 404,
    body: { error: { message: expect.any(String), type: 'invalid_request_error', code: null, param: null } },
  });

  it('should answer /docs and /docs-json with 404 in OpenAI’s shape when false', async () => {
    expect(await docsOf({ DOCS_ENABLED: 'false' })).toEqual([notFound('/docs'), notFound('/docs-json')]);
  });

  it('should be off by default in production', async () => {
    expect(await docsOf(production)).toEqual([notFound('/docs'), notFound('/docs-json')]);
  });

  it('should serve the document in production when true', async () => {
    const [page, json] = await docsOf({ ...production, DOCS_ENABLED: 'true' });
    expect([page.status, json.status]).toEqual([200, 200]);
    expect(json.body).toMatchObject({ info: { title: 'Tollgate' } });
  });
});

/** The data of each server-sent event. */
function dataOf(stream: string): string[] {
  return stream
    .split('\n\n')
    .filter(Boolean)
    .map((event) => event.split('\n').find((line) => line.startsWith('data: '))!.slice('data: '.length));
}

function verdictOf(problem: FieldProblem | undefined): string {
  if (!problem) return 'accepts';
  return problem.kind === 'unknownField' ? `refuses: unknown field ${paramAt(problem.path)}` : `refuses ${paramAt(problem.path)}: ${problem.constraint}`;
}

function sameMembers(a: string[], b: string[]): boolean {
  return JSON.stringify([...a].sort()) === JSON.stringify([...b].sort());
}
