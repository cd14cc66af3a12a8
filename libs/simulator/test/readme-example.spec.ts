// The example of README.md, "Testing your own service", kept runnable: change both together.
import { startSimulator, type RunningSimulator } from '@tollgate/simulator';
import OpenAI from 'openai';

// --- summarize.ts: the service under test ---
export async function summarize(client: OpenAI, text: string): Promise<string> {
  try {
    const completion = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: `Summarize in one sentence: ${text}` }],
    });
    return completion.choices[0].message.content ?? '';
  } catch (error) {
    // A summary is nice to have: the page renders without one.
    if (error instanceof OpenAI.APIError) return '(summary unavailable)';
    throw error;
  }
}

// --- summarize.spec.ts ---
describe('summarize', () => {
  let simulator: RunningSimulator;
  let client: OpenAI;

  beforeAll(async () => {
    simulator = await startSimulator();
    client = new OpenAI({ apiKey: 'sk-test', baseURL: simulator.url, maxRetries: 2, timeout: 500 });
  });
  afterEach(() => simulator.reset());
  afterAll(() => simulator.close());

  it('should summarize', async () => {
    expect(await summarize(client, 'A long text.')).toMatch(/^Lorem ipsum/);
  });

  it('should get through two 429s, the SDK retrying after retry-after-ms', async () => {
    simulator.enqueueFaults({ preset: 'rate_limit_exceeded', times: 2, retryAfterMs: 10 });

    expect(await summarize(client, 'A long text.')).toMatch(/^Lorem ipsum/);
    expect(simulator.calls().map((call) => call.status)).toEqual([429, 429, 200]);
  });

  it('should give up after three 500s', async () => {
    simulator.enqueueFaults({ preset: 'server_error', times: 3 });

    expect(await summarize(client, 'A long text.')).toBe('(summary unavailable)');
    expect(simulator.calls()).toHaveLength(3);
  });

  it('should give up when the upstream never answers', async () => {
    simulator.enqueueFaults({ preset: 'hang', times: 3 });

    expect(await summarize(client, 'A long text.')).toBe('(summary unavailable)');
    expect(simulator.calls().map((call) => call.fault)).toEqual(['hang', 'hang', 'hang']);
  });
});
