import { Database, Governance, QuotaService } from '@tollgate/ai/tenancy';
import OpenAI from 'openai';
import type { ResponseStreamEvent } from 'openai/resources/responses/responses';
import { query } from '../libs/ai/test/integration/replica';
import { describeEachDatabase } from '../libs/ai/test/integration/services';
import { aUserMessage, createTenant, eventually, GatewayUnderTest, rejectionOf, startGatewayWithSimulator, tenantClient } from './support/gateway-harness';

interface LedgerRow {
  request_id: string;
  endpoint: string;
  model_served: string | null;
  prompt_tokens: number;
  completion_tokens: number;
  cached_tokens: number;
  reasoning_tokens: number;
  cost_micro_usd: number;
  outcome: string;
  stream: boolean;
}

/** USD per million tokens, as config/models.yaml lists them. */
const GPT_4O_MINI = { input: 0.15, cached: 0.075, output: 0.6 };
const EMBEDDING_3_SMALL = 0.02;

/** The tenant's ledger rows, oldest first, once every call ended so far is written; PostgreSQL's bigints as numbers. */
async function ledgerOf(gateway: GatewayUnderTest, tenantId: string): Promise<LedgerRow[]> {
  await gateway.app.get(Governance).drain();
  const rows = await query<Record<string, unknown>>(
    gateway.app.get(Database),
    `SELECT request_id, endpoint, model_served, prompt_tokens, completion_tokens, cached_tokens, reasoning_tokens, cost_micro_usd, outcome, stream
     FROM tollgate_usage_ledger WHERE tenant_id = $1 ORDER BY created_at, request_id`,
    [tenantId],
  );
  return rows.map((row) => ({
    ...(row as unknown as LedgerRow),
    prompt_tokens: Number(row.prompt_tokens),
    completion_tokens: Number(row.completion_tokens),
    cached_tokens: Number(row.cached_tokens),
    reasoning_tokens: Number(row.reasoning_tokens),
    cost_micro_usd: Number(row.cost_micro_usd),
    stream: Boolean(row.stream),
  }));
}

async function eventsOf(stream: AsyncIterable<ResponseStreamEvent>): Promise<ResponseStreamEvent[]> {
  const events: ResponseStreamEvent[] = [];
  for await (const event of stream) events.push(event);
  return events;
}

const microUsd = (tokens: { prompt: number; cached?: number; completion: number }, price: { input: number; cached?: number; output: number }) =>
  Math.ceil((tokens.prompt - (tokens.cached ?? 0)) * price.input + (tokens.cached ?? 0) * (price.cached ?? price.input) + tokens.completion * price.output);

describeEachDatabase('Embeddings and the Responses API through the gateway, reserved, settled and in the ledger', (databases) => {
  let gateway: GatewayUnderTest;
  let seq = 0;
  let tenantId: string;
  let client: OpenAI;

  beforeAll(async () => {
    gateway = await startGatewayWithSimulator({ DATABASE_URL: await databases.fresh(), AI_KEY_CACHE_TTL_MS: '0' });
  });
  afterAll(() => gateway.close());
  beforeEach(async () => {
    gateway.simulator.reset();
    tenantId = `endpoints-${databases.dialect}-${++seq}`;
    client = tenantClient(gateway.url, { apiKey: await createTenant(gateway.app, tenantId) });
  });

  const tokensUsed = async () => (await gateway.app.get(QuotaService).view(tenantId)).tokensPerMonth.used;

  it('should embed, settle the reservation to the input tokens the upstream billed and write an embeddings row', async () => {
    const embeddings = await client.embeddings.create({ model: 'text-embedding-3-small', input: ['The quick brown fox', 'jumps over the lazy dog'] });

    const [row] = await ledgerOf(gateway, tenantId);
    expect(embeddings.data).toHaveLength(2);
    expect(embeddings.usage.prompt_tokens).toBeGreaterThan(0);
    expect(row).toMatchObject({
      endpoint: 'embeddings',
      model_served: 'text-embedding-3-small',
      prompt_tokens: embeddings.usage.prompt_tokens,
      completion_tokens: 0,
      cost_micro_usd: Math.ceil(embeddings.usage.prompt_tokens * EMBEDDING_3_SMALL),
      outcome: 'success',
      stream: false,
    });
    expect(await tokensUsed()).toBe(embeddings.usage.prompt_tokens);
    expect(gateway.simulator.calls().map((call) => call.path)).toEqual(['/v1/embeddings']);
  });

  it('should answer a response, billed by its usage in a responses row', async () => {
    const response = await client.responses.create({ model: 'gpt-4o-mini', input: 'Say hello.', max_output_tokens: 100 });

    const [row] = await ledgerOf(gateway, tenantId);
    expect(response.output_text).toContain('Lorem');
    const usage = response.usage!;
    expect(row).toMatchObject({
      endpoint: 'responses',
      model_served: 'gpt-4o-mini',
      prompt_tokens: usage.input_tokens,
      completion_tokens: usage.output_tokens,
      cached_tokens: 0,
      cost_micro_usd: microUsd({ prompt: usage.input_tokens, completion: usage.output_tokens }, GPT_4O_MINI),
      outcome: 'success',
      stream: false,
    });
    expect(await tokensUsed()).toBe(usage.input_tokens + usage.output_tokens);
  });

  it('should stream a response with its typed events, billed by the usage of response.completed', async () => {
    const events = await eventsOf(await client.responses.create({ model: 'gpt-4o-mini', input: 'Say hello.', stream: true }));

    const [row] = await ledgerOf(gateway, tenantId);
    const types = events.map((event) => event.type);
    expect(types[0]).toBe('response.created');
    expect(types).toContain('response.output_text.delta');
    expect(types.at(-1)).toBe('response.completed');
    const completed = events.at(-1) as Extract<ResponseStreamEvent, { type: 'response.completed' }>;
    const usage = completed.response.usage!;
    expect(row).toMatchObject({
      endpoint: 'responses',
      prompt_tokens: usage.input_tokens,
      completion_tokens: usage.output_tokens,
      outcome: 'success',
      stream: true,
    });
    expect(await tokensUsed()).toBe(usage.input_tokens + usage.output_tokens);
  });

  it('should price cached input tokens at the cached price, in the responses row and the chat row alike', async () => {
    gateway.simulator.configure({ cachedPromptTokens: 0.5 });

    const response = await client.responses.create({ model: 'gpt-4o-mini', input: 'Summarize the attached long document, please, in three lines.' });
    const chat = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: aUserMessage('Summarize the attached long document, please.') });

    const [responseRow, chatRow] = await ledgerOf(gateway, tenantId);
    const usage = response.usage!;
    const cached = usage.input_tokens_details.cached_tokens;
    expect(cached).toBeGreaterThan(0);
    expect(responseRow).toMatchObject({ endpoint: 'responses', cached_tokens: cached, prompt_tokens: usage.input_tokens });
    expect(responseRow.cost_micro_usd).toBe(microUsd({ prompt: usage.input_tokens, cached, completion: usage.output_tokens }, GPT_4O_MINI));
    expect(responseRow.cost_micro_usd).toBeLessThan(microUsd({ prompt: usage.input_tokens, completion: usage.output_tokens }, GPT_4O_MINI));
    const chatCached = chat.usage!.prompt_tokens_details!.cached_tokens!;
    expect(chatRow).toMatchObject({ endpoint: 'chat.completions', cached_tokens: chatCached });
    expect(chatRow.cost_micro_usd).toBe(
      microUsd({ prompt: chat.usage!.prompt_tokens, cached: chatCached, completion: chat.usage!.completion_tokens }, GPT_4O_MINI),
    );
  });

  it('should store the reasoning tokens as part of the completion tokens, never on top of them', async () => {
    const response = await client.responses.create({ model: 'o4-mini', input: 'Think, then say hello.', max_output_tokens: 200 });

    const [row] = await ledgerOf(gateway, tenantId);
    const usage = response.usage!;
    expect(usage.output_tokens_details.reasoning_tokens).toBeGreaterThan(0);
    expect(row).toMatchObject({
      reasoning_tokens: usage.output_tokens_details.reasoning_tokens,
      completion_tokens: usage.output_tokens,
      cost_micro_usd: microUsd({ prompt: usage.input_tokens, completion: usage.output_tokens }, { input: 1.1, output: 4.4 }),
    });
  });

  it('should relay a stream that ends in response.failed as sent, and record it as a failure', async () => {
    gateway.simulator.enqueueFaults({ preset: 'response_failed' });

    const events = await eventsOf(await client.responses.create({ model: 'gpt-4o-mini', input: 'Say hello.', stream: true }));

    const [row] = await ledgerOf(gateway, tenantId);
    expect(events.at(-1)?.type).toBe('response.failed');
    expect(events.filter((event) => event.type === 'response.output_text.delta').length).toBeGreaterThan(0);
    expect(row).toMatchObject({ endpoint: 'responses', outcome: 'response_failed', stream: true });
    const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
    expect(metrics).toMatch(/tollgate_endpoint_requests_total\{endpoint="responses",outcome="response_failed"\} [1-9]/);
  });

  it('should record a response the upstream answered as failed as a failure, and hand it over as answered', async () => {
    gateway.simulator.enqueueFaults({ preset: 'response_failed' });

    const response = await client.responses.create({ model: 'gpt-4o-mini', input: 'Say hello.' });

    const [row] = await ledgerOf(gateway, tenantId);
    expect(response.status).toBe('failed');
    expect(row).toMatchObject({ endpoint: 'responses', outcome: 'response_failed', stream: false });
  });

  it('should reserve the input and max_output_tokens, or the model’s largest completion, against the quota', async () => {
    const limited = tenantClient(gateway.url, { apiKey: await createTenant(gateway.app, `${tenantId}-q2`, { tokensPerMonth: 1_000 }) });

    const small = await limited.responses.create({ model: 'gpt-4o-mini', input: 'Say hello.', max_output_tokens: 50 });
    const large = await rejectionOf(limited.responses.create({ model: 'gpt-4o-mini', input: 'Say hello.', max_output_tokens: 2_000 }));
    const unbounded = await rejectionOf(limited.responses.create({ model: 'gpt-4o-mini', input: 'Say hello.' }));

    expect(small.status).toBe('completed');
    for (const refused of [large, unbounded]) expect(refused).toMatchObject({ status: 429, code: 'tenant_quota_exceeded' });
    expect(gateway.simulator.calls()).toHaveLength(1);
  });

  it('should refuse with 429 tenant_quota_exceeded the embeddings and responses a spent quota cannot hold, calling no upstream', async () => {
    const spent = tenantClient(gateway.url, { apiKey: await createTenant(gateway.app, `${tenantId}-spent`, { tokensPerMonth: 5 }) });

    const embedding = await rejectionOf(spent.embeddings.create({ model: 'text-embedding-3-small', input: 'A sentence of rather more than five tokens.' }));
    const response = await rejectionOf(spent.responses.create({ model: 'gpt-4o-mini', input: 'Say hello.', max_output_tokens: 16 }));

    for (const refused of [embedding, response]) {
      expect(refused.status).toBe(429);
      expect(refused.code).toBe('tenant_quota_exceeded');
      expect(Number(refused.headers?.get('retry-after'))).toBeGreaterThan(0);
    }
    expect(gateway.simulator.calls()).toHaveLength(0);
    expect(await ledgerOf(gateway, `${tenantId}-spent`)).toEqual([]);
  });
});

describe('Embeddings, the Responses API and GET /v1/models/{id}: the guards of the request path', () => {
  let gateway: GatewayUnderTest;
  let seq = 0;

  beforeAll(async () => {
    gateway = await startGatewayWithSimulator({ AI_KEY_CACHE_TTL_MS: '0' });
  });
  afterAll(() => gateway.close());
  beforeEach(() => gateway.simulator.reset());

  const newTenant = async (plan?: string) => {
    const id = `guarded-${++seq}`;
    const key = await createTenant(gateway.app, id, {}, plan);
    return { id, key, client: tenantClient(gateway.url, { apiKey: key }) };
  };

  const post = (path: string, key: string, body: unknown) =>
    fetch(`${gateway.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });

  it.each([
    ['/v1/embeddings', { model: 'text-embedding-3-small', input: '' }, 'input'],
    ['/v1/embeddings', { model: 'text-embedding-3-small', input: [1, 'two'] }, 'input'],
    ['/v1/embeddings', { model: 'text-embedding-3-small' }, 'input'],
    ['/v1/embeddings', { model: 'text-embedding-3-small', input: 'Hi', encoding_format: 'int8' }, 'encoding_format'],
    ['/v1/responses', { model: 'gpt-4o-mini', input: 'Hi', max_output_tokens: 0 }, 'max_output_tokens'],
    ['/v1/responses', { model: 'gpt-4o-mini', input: ['not an item'] }, 'input'],
    ['/v1/responses', { model: 'gpt-4o-mini', input: 'Hi', background: true }, 'background'],
    ['/v1/responses', { model: 'gpt-4o-mini', input: 'Hi', stream_options: { include_obfuscation: false } }, 'stream_options'],
    ['/v1/responses', { input: 'Hi' }, 'model'],
    ['/v1/responses', { model: 'gpt-4o-mini', input: 'Hi', temprature: 1 }, 'temprature'],
  ])('should refuse a bad body for %s with 400 naming the param, and change nothing (%j)', async (path, body, param) => {
    const { id, key } = await newTenant();

    const response = await post(path, key, body);

    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: unknown }).error).toMatchObject({ type: 'invalid_request_error', param });
    expect(gateway.simulator.calls()).toHaveLength(0);
    expect(await ledgerOf(gateway, id)).toEqual([]);
    expect((await gateway.app.get(QuotaService).view(id)).requestsPerDay.used).toBe(0);
  });

  it('should refuse a model outside the tenant’s plan with 403 model_not_allowed, on both endpoints, calling no upstream', async () => {
    const { client } = await newTenant('free');

    const embedding = await rejectionOf(client.embeddings.create({ model: 'text-embedding-3-small', input: 'Hi' }));
    const response = await rejectionOf(client.responses.create({ model: 'gpt-4o', input: 'Hi' }));
    const stream = await rejectionOf(client.responses.create({ model: 'gpt-4o', input: 'Hi', stream: true }));

    for (const refused of [embedding, response, stream]) expect(refused).toMatchObject({ status: 403, code: 'model_not_allowed', param: 'model' });
    expect(gateway.simulator.calls()).toHaveLength(0);
  });

  it('should retry a transient failure of the upstream before it answers, as for chat', async () => {
    const { client } = await newTenant();
    gateway.simulator.enqueueFaults({ preset: 'overloaded', match: { model: 'text-embedding-3-small' } }, { preset: 'server_error', match: { model: 'gpt-4o-mini' } });

    const embeddings = await client.embeddings.create({ model: 'text-embedding-3-small', input: 'Hi' });
    const events = await eventsOf(await client.responses.create({ model: 'gpt-4o-mini', input: 'Hi', stream: true }));

    expect(embeddings.data).toHaveLength(1);
    expect(events.at(-1)?.type).toBe('response.completed');
    expect(gateway.simulator.calls().map((call) => call.status)).toEqual([503, 200, 500, 200]);
  });

  it('should relay the events of a stream as the upstream framed them, each named by its type, with the served headers', async () => {
    const { key } = await newTenant();

    const response = await post('/v1/responses', key, { model: 'gpt-4o-mini', input: 'Hi', stream: true });
    const text = await response.text();

    expect(response.headers.get('content-type')).toContain('text/event-stream');
    expect(response.headers.get('x-tollgate-served-model')).toBe('gpt-4o-mini');
    expect(response.headers.get('x-tollgate-upstream')).toBeTruthy();
    const events = text.split('\n\n').filter(Boolean);
    expect(events.length).toBeGreaterThan(3);
    for (const event of events) {
      const [name, data] = event.split('\n');
      expect(name).toMatch(/^event: /);
      expect(JSON.parse(data.slice('data: '.length)).type).toBe(name.slice('event: '.length));
    }
  });

  it('should write the one request log line of an embeddings call, with its tokens and outcome', async () => {
    const { client } = await newTenant();

    await client.embeddings.create({ model: 'text-embedding-3-small', input: 'Hi there' }, { headers: { 'x-request-id': 'req-embed-1' } });

    await eventually(() =>
      expect(gateway.log.requests().find((line) => line.requestId === 'req-embed-1')).toMatchObject({
        req: { method: 'POST', url: '/v1/embeddings' },
        res: { statusCode: 200 },
        modelServed: 'text-embedding-3-small',
        promptTokens: expect.any(Number),
        completionTokens: 0,
        outcome: 'success',
      }),
    );
  });

  it('should give the model object of a model the tenant may use, and 404 model_not_found for any other', async () => {
    const { client } = await newTenant('free');

    const model = await client.models.retrieve('gpt-4o-mini');
    const outside = await rejectionOf(client.models.retrieve('gpt-4o'));
    const unknown = await rejectionOf(client.models.retrieve('gpt-unknown'));

    expect(model).toMatchObject({ id: 'gpt-4o-mini', object: 'model' });
    for (const missing of [outside, unknown]) expect(missing).toMatchObject({ status: 404, code: 'model_not_found', type: 'invalid_request_error', param: 'model' });
  });

  it('should document the new routes in the OpenAPI document, behind the tenant scheme, with their request bodies', async () => {
    const document = (await (await fetch(`${gateway.url}/docs-json`)).json()) as {
      paths: Record<string, Record<string, { security?: unknown; requestBody?: { content: Record<string, { schema: { $ref: string } }> } }>>;
    };

    expect(document.paths['/v1/embeddings'].post).toMatchObject({
      security: [{ tenant: [] }],
      requestBody: { content: { 'application/json': { schema: { $ref: '#/components/schemas/EmbeddingRequestDto' } } } },
    });
    expect(document.paths['/v1/responses'].post).toMatchObject({
      security: [{ tenant: [] }],
      requestBody: { content: { 'application/json': { schema: { $ref: '#/components/schemas/ResponseRequestDto' } } } },
    });
    expect(document.paths['/v1/models/{id}'].get).toMatchObject({ security: [{ tenant: [] }] });
  });
});
