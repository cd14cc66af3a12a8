import { startSimulator, type RunningSimulator, type SimulatedFault } from '@tollgate/simulator';
import { APIError } from 'openai';
import { clientFor, MESSAGES } from './helpers';

describe('startSimulator({ faults })', () => {
  const running: RunningSimulator[] = [];
  const start = async (faults: SimulatedFault[]) => {
    const sim = await startSimulator({ faults });
    running.push(sim);
    return sim;
  };
  afterEach(async () => {
    await Promise.all(running.map((sim) => sim.close()));
    running.length = 0;
  });

  /** The statuses of `count` calls one after the other, for `model`; 200 for an answer. */
  async function statuses(sim: RunningSimulator, count: number, model = 'gpt-4o-mini'): Promise<(number | undefined)[]> {
    const client = clientFor(sim);
    const seen: (number | undefined)[] = [];
    for (let i = 0; i < count; i++) {
      seen.push(
        await client.chat.completions.create({ model, messages: MESSAGES }).then(
          () => 200,
          (error: unknown) => (error instanceof APIError ? error.status : Promise.reject(error)),
        ),
      );
    }
    return seen;
  }

  it('should answer the first calls with the faults scripted at start, in order, each `times` times', async () => {
    const sim = await start([{ preset: 'rate_limit_exceeded', times: 2 }, { preset: 'server_error' }, { status: 418 }]);

    expect(await statuses(sim, 5)).toEqual([429, 429, 500, 418, 200]);
    expect(sim.calls().map((call) => call.fault)).toEqual(['rate_limit_exceeded', 'rate_limit_exceeded', 'server_error', 'status:418', undefined]);
  });

  it('should script them again on reset(), and queue enqueueFaults after them', async () => {
    const sim = await start([{ preset: 'overloaded' }]);
    await statuses(sim, 2);

    sim.reset();
    sim.enqueueFaults({ preset: 'bad_gateway' });

    expect(await statuses(sim, 3)).toEqual([503, 502, 200]);
    expect(sim.calls()[0].seq).toBe(1);
  });

  it('should keep a start fault matching a model for that model', async () => {
    const sim = await start([{ preset: 'model_not_found', match: { model: 'gpt-4.1' } }]);

    expect(await statuses(sim, 1, 'gpt-4o')).toEqual([200]);
    expect(await statuses(sim, 2, 'gpt-4.1')).toEqual([404, 200]);
  });

  it('should refuse an invalid fault before it listens', async () => {
    await expect(startSimulator({ faults: [{ preset: 'nope' } as unknown as SimulatedFault] })).rejects.toThrow("faults[0]: 'preset' must be a fault preset");
    await expect(startSimulator({ faults: [{ times: 0 }] })).rejects.toThrow("'times' must be a positive integer");
  });
});
