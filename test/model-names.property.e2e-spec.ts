import fc from 'fast-check';
import { randomUUID } from 'node:crypto';
import { loadCatalogs } from '../src/config/catalog-files';
import { aUserMessage, createTenant, GatewayUnderTest, rejectionOf, startGatewayWithSimulator, tenantClient } from './support/gateway-harness';
import { JobsClient, OpenAiErrorBody } from './support/jobs-client';

const LISTED_MODELS = new Set(Object.keys(loadCatalogs('config').models));
// `constructor`, `toString`, `__proto__`, `hasOwnProperty`…: what a lookup in a plain object finds without anyone listing it.
const PROTOTYPE_NAMES = Object.getOwnPropertyNames(Object.prototype);

const unlistedModel = fc
  .oneof(fc.constantFrom(...PROTOTYPE_NAMES), fc.string({ minLength: 1, maxLength: 40 }))
  .filter((model) => model.trim() !== '' && !LISTED_MODELS.has(model));

describe('Model names outside the model table (e2e, property-based)', () => {
  let gateway: GatewayUnderTest;
  let strictKey: string;

  beforeAll(async () => {
    gateway = await startGatewayWithSimulator();
    strictKey = await createTenant(gateway.app, `strict-${randomUUID().slice(0, 8)}`, { allowUnknownModels: false });
  });
  afterAll(() => gateway.close());

  it.each(['constructor', '__proto__', 'toString'])('should answer %s as a model with 404 model_not_found, sync and async', async (model) => {
    const error = await rejectionOf(tenantClient(gateway.url, { apiKey: strictKey }).chat.completions.create({ model, messages: aUserMessage() }));
    const submitted = await new JobsClient(gateway.url, strictKey).submit({ model, messages: aUserMessage() });

    expect(error.status).toBe(404);
    expect(error.error).toMatchObject({ type: 'invalid_request_error', code: 'model_not_found', param: 'model' });
    expect(submitted.status).toBe(404);
    expect((submitted.body as unknown as OpenAiErrorBody).error).toMatchObject({ code: 'model_not_found', param: 'model' });
  });

  it('should refuse every model the table does not list with 404 model_not_found, sync and async', async () => {
    const client = tenantClient(gateway.url, { apiKey: strictKey });
    const jobs = new JobsClient(gateway.url, strictKey);
    await fc.assert(
      fc.asyncProperty(unlistedModel, async (model) => {
        const error = await rejectionOf(client.chat.completions.create({ model, messages: aUserMessage() }));
        const submitted = await jobs.submit({ model, messages: aUserMessage() });

        expect([error.status, error.error]).toEqual([404, expect.objectContaining({ code: 'model_not_found' })]);
        expect([submitted.status, (submitted.body as unknown as OpenAiErrorBody).error]).toEqual([404, expect.objectContaining({ code: 'model_not_found' })]);
      }),
      { numRuns: 40 },
    );
    expect(gateway.simulator.calls()).toHaveLength(0);
  });

  it('should pass a prototype name through as any unknown model for a plan that allows unknown models', async () => {
    const completion = await gateway.client.chat.completions.create({ model: 'constructor', messages: aUserMessage(), max_tokens: 16 });

    expect(completion.model).toBe('constructor');
  });
});
