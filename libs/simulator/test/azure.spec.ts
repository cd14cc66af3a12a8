import { startSimulator, type RunningSimulator } from '@tollgate/simulator';
import OpenAI, { APIError, AzureOpenAI } from 'openai';
import { collect, MESSAGES, originOf, rejectionOf } from './helpers';

const API_VERSION = '2024-10-21';
const AZURE_KEY = 'azure-key-0123456789';

describe('simulator as Azure OpenAI', () => {
  let sim: RunningSimulator;
  let azure: AzureOpenAI;
  let origin: string;

  beforeAll(async () => {
    sim = await startSimulator({ acceptedKeys: [AZURE_KEY, 'sk-openai'] });
    origin = originOf(sim);
    azure = new AzureOpenAI({ endpoint: origin, apiKey: AZURE_KEY, apiVersion: API_VERSION, maxRetries: 0 });
  });
  afterEach(() => sim.reset());
  afterAll(() => sim.close());

  const post = (path: string, body: unknown, headers: Record<string, string> = { 'api-key': AZURE_KEY }) =>
    fetch(`${origin}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

  describe('classic deployment paths', () => {
    it("should serve chat completions for the deployment in the path, with the api-key header, and Azure's request ids", async () => {
      const { data: completion, response } = await azure.chat.completions.create({ model: 'my-gpt-4o', messages: MESSAGES }).withResponse();

      expect(completion.model).toBe('my-gpt-4o');
      expect(completion.choices[0].message.content).toMatch(/^Lorem ipsum/);
      expect(response.headers.get('x-ms-request-id')).toBe('00000000-0000-4000-8000-000000000001');
      expect(response.headers.get('apim-request-id')).toBe('00000000-0000-4000-8000-000000000001');
      expect(sim.calls()).toEqual([
        expect.objectContaining({
          path: '/openai/deployments/my-gpt-4o/chat/completions',
          api: 'azure',
          endpoint: 'chat.completions',
          deployment: 'my-gpt-4o',
          model: 'my-gpt-4o',
          apiVersion: API_VERSION,
          auth: 'api-key',
          authorized: true,
          status: 200,
        }),
      ]);
    });

    it('should stream chat completions', async () => {
      const chunks = await collect(await azure.chat.completions.create({ model: 'my-gpt-4o', messages: MESSAGES, stream: true }));

      expect(chunks.map((chunk) => chunk.choices[0]?.delta.content ?? '').join('')).toMatch(/^Lorem ipsum/);
    });

    it('should take the deployment for the model, whatever the body says, or without one', async () => {
      const other = await post(`/openai/deployments/dep-a/chat/completions?api-version=${API_VERSION}`, { model: 'gpt-4o', messages: MESSAGES });
      const none = await post(`/openai/deployments/dep-b/chat/completions?api-version=${API_VERSION}`, { messages: MESSAGES });

      expect(((await other.json()) as { model: string }).model).toBe('dep-a');
      expect(((await none.json()) as { model: string }).model).toBe('dep-b');
    });

    it('should serve embeddings for the deployment', async () => {
      const response = await azure.embeddings.create({ model: 'my-embeddings', input: 'hello', dimensions: 8 });

      expect(response.model).toBe('my-embeddings');
      expect(response.data[0].embedding).toHaveLength(8);
      expect(sim.calls()[0]).toMatchObject({ path: '/openai/deployments/my-embeddings/embeddings', endpoint: 'embeddings', deployment: 'my-embeddings' });
    });

    it('should serve the Responses API at /openai/responses', async () => {
      const response = await azure.responses.create({ model: 'my-gpt-4o', input: 'Say hello' });

      expect(response).toMatchObject({ object: 'response', status: 'completed', model: 'my-gpt-4o' });
      expect(sim.calls()[0]).toMatchObject({ path: '/openai/responses', endpoint: 'responses', apiVersion: API_VERSION, auth: 'api-key' });
    });

    it("should answer a missing api-version as Azure does: its 404 Resource not found", async () => {
      const response = await post('/openai/deployments/my-gpt-4o/chat/completions', { messages: MESSAGES });

      expect(response.status).toBe(404);
      expect(await response.json()).toEqual({ error: { code: '404', message: 'Resource not found' } });
      expect(response.headers.get('apim-request-id')).not.toBeNull();
      expect(sim.calls()[0]).toMatchObject({ endpoint: 'chat.completions', deployment: 'my-gpt-4o', status: 404 });
      expect(sim.calls()[0].apiVersion).toBeUndefined();
    });

    it('should answer an api-version that is not one with a 400', async () => {
      const response = await post('/openai/deployments/my-gpt-4o/embeddings?api-version=latest', { input: 'a' });

      expect(response.status).toBe(400);
      expect(await response.json()).toEqual({ error: { code: 'BadRequest', message: 'API version not supported' } });
    });
  });

  describe('the v1 API under /openai/v1', () => {
    it('should serve the same endpoints as /v1, without an api-version', async () => {
      const client = new OpenAI({ baseURL: `${origin}/openai/v1`, apiKey: AZURE_KEY, maxRetries: 0 });

      const completion = await client.chat.completions.create({ model: 'gpt-4o', messages: MESSAGES });
      const embeddings = await client.embeddings.create({ model: 'text-embedding-3-small', input: 'hello' });
      const response = await client.responses.create({ model: 'gpt-4o', input: 'Say hello' });
      const model = await client.models.retrieve('gpt-4o');

      expect(completion.model).toBe('gpt-4o');
      expect(embeddings.data[0].embedding).toHaveLength(1536);
      expect(response.status).toBe('completed');
      expect(model.id).toBe('gpt-4o');
      expect(sim.calls().map((call) => [call.path, call.endpoint, call.api, call.auth])).toEqual([
        ['/openai/v1/chat/completions', 'chat.completions', 'azure', 'bearer'],
        ['/openai/v1/embeddings', 'embeddings', 'azure', 'bearer'],
        ['/openai/v1/responses', 'responses', 'azure', 'bearer'],
        ['/openai/v1/models/gpt-4o', 'models.retrieve', 'azure', 'bearer'],
      ]);
    });

    it('should take the api-key header there too', async () => {
      const response = await post('/openai/v1/chat/completions', { model: 'gpt-4o', messages: MESSAGES });

      expect(response.status).toBe(200);
      expect(sim.calls()[0]).toMatchObject({ auth: 'api-key', authorized: true });
    });
  });

  describe('keys', () => {
    it("should answer a wrong key on an Azure path with Azure's 401", async () => {
      const wrong = new AzureOpenAI({ endpoint: origin, apiKey: 'wrong-key', apiVersion: API_VERSION, maxRetries: 0 });

      const error = await rejectionOf(wrong.chat.completions.create({ model: 'my-gpt-4o', messages: MESSAGES }));
      const missing = await post(`/openai/deployments/my-gpt-4o/chat/completions?api-version=${API_VERSION}`, { messages: MESSAGES }, {});

      expect(error).toBeInstanceOf(APIError);
      expect(error).toMatchObject({ status: 401, code: '401' });
      expect((error as APIError).message).toContain('Access denied due to invalid subscription key or wrong API endpoint.');
      expect(missing.status).toBe(401);
      expect(await missing.json()).toEqual({ error: { code: '401', message: expect.stringContaining('missing subscription key') } });
      expect(sim.calls()).toMatchObject([
        { authorized: false, auth: 'api-key', status: 401 },
        { authorized: false, status: 401 },
      ]);
      expect(sim.calls()[1].auth).toBeUndefined();
    });

    it('should take the api-key header on OpenAI paths too, against the same accepted keys', async () => {
      const accepted = await post('/v1/chat/completions', { model: 'gpt-4o', messages: MESSAGES }, { 'api-key': 'sk-openai' });
      const rejected = await post('/v1/chat/completions', { model: 'gpt-4o', messages: MESSAGES }, { 'api-key': 'sk-other' });

      expect(accepted.status).toBe(200);
      expect(rejected.status).toBe(401);
      expect(((await rejected.json()) as { error: { code: string } }).error.code).toBe('invalid_api_key');
      expect(sim.calls().map((call) => [call.auth, call.authorized])).toEqual([
        ['api-key', true],
        ['api-key', false],
      ]);
    });

    it('should prefer Authorization: Bearer when both come', async () => {
      const response = await post('/v1/chat/completions', { model: 'gpt-4o', messages: MESSAGES }, { authorization: 'Bearer sk-openai', 'api-key': 'wrong' });

      expect(response.status).toBe(200);
      expect(sim.calls()[0].auth).toBe('bearer');
    });
  });

  it("should answer content_filter with Azure's 400 and its innererror", async () => {
    const error = await rejectionOf(
      azure.chat.completions.create({ model: 'my-gpt-4o', messages: MESSAGES }, { headers: { 'x-simulator-fault': 'content_filter' } }),
    );

    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect(error).toMatchObject({ status: 400, code: 'content_filter', param: 'prompt', type: null });
    expect((error as APIError).error).toEqual({
      message: expect.stringContaining("Azure OpenAI's content management policy"),
      type: null,
      param: 'prompt',
      code: 'content_filter',
      status: 400,
      innererror: {
        code: 'ResponsibleAIPolicyViolation',
        content_filter_result: {
          hate: { filtered: false, severity: 'safe' },
          jailbreak: { filtered: false, detected: false },
          self_harm: { filtered: false, severity: 'safe' },
          sexual: { filtered: false, severity: 'safe' },
          violence: { filtered: true, severity: 'medium' },
        },
      },
    });
    expect(sim.calls()[0]).toMatchObject({ fault: 'content_filter', status: 400 });
  });

  it("should answer an unknown Azure path with Azure's 404", async () => {
    const response = await post(`/openai/deployments/my-gpt-4o/completions?api-version=${API_VERSION}`, { prompt: 'a' });

    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({ error: { code: '404', message: 'Resource not found' } });
    expect(sim.calls()[0].endpoint).toBeUndefined();
  });
});
