import { startSimulator, type RunningSimulator } from '@tollgate/simulator';
import type OpenAI from 'openai';
import { APIError } from 'openai';
import { clientFor, rejectionOf } from './helpers';

describe('simulator models', () => {
  let sim: RunningSimulator;
  let client: OpenAI;

  beforeAll(async () => {
    sim = await startSimulator();
    client = clientFor(sim);
  });
  afterEach(() => sim.reset());
  afterAll(() => sim.close());

  it('should answer one listed model', async () => {
    const model = await client.models.retrieve('o4-mini');

    expect(model).toEqual({ id: 'o4-mini', object: 'model', created: 1744225351, owned_by: 'tollgate-simulator' });
    expect(sim.calls()[0]).toMatchObject({ path: '/v1/models/o4-mini', endpoint: 'models.retrieve', model: 'o4-mini', status: 200 });
  });

  it("should answer a model it does not list with OpenAI's 404", async () => {
    const error = await rejectionOf(client.models.retrieve('gpt-9'));

    expect(error).toBeInstanceOf(APIError);
    expect((error as APIError).error).toEqual({ message: "The model 'gpt-9' does not exist", type: 'invalid_request_error', param: 'model', code: 'model_not_found' });
    expect((error as APIError).status).toBe(404);
  });

  it('should apply faults, a queued one matching that model included', async () => {
    sim.enqueueFaults({ preset: 'overloaded', match: { model: 'gpt-4o' } });

    const other = await client.models.retrieve('gpt-4o-mini');
    const matched = await rejectionOf(client.models.retrieve('gpt-4o'));
    const byHeader = await rejectionOf(client.models.retrieve('gpt-4o', { headers: { 'x-simulator-fault': 'server_error' } }));

    expect(other.id).toBe('gpt-4o-mini');
    expect([matched, byHeader].map((error) => (error as APIError).status)).toEqual([503, 500]);
  });

  it('should record the list as models.list, without a model', async () => {
    await client.models.list();

    expect(sim.calls()[0]).toMatchObject({ endpoint: 'models.list', api: 'openai' });
    expect(sim.calls()[0]).not.toHaveProperty('model');
  });
});
