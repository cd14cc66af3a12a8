import { LimitOverrides } from '@tollgate/ai';
import { randomUUID } from 'node:crypto';
import OpenAI from 'openai';
import type { ChatCompletionContentPart } from 'openai/resources/chat/completions';
import { createTenant, GatewayUnderTest, startGatewayWithSimulator, tenantClient } from './support/gateway-harness';

// The simulator bills text only, so what these tenants could overspend shows in what the gateway let through.
const CONCURRENT_REQUESTS = 10;
// OpenAI's tile rule for gpt-4o and gpt-4.1: 85 + 170 per 512-px tile, at most 8 tiles (768 × 2048).
const HIGH_DETAIL_IMAGE_BOUND = 85 + 8 * 170;

const anImage = (detail: 'low' | 'high' | 'auto' = 'high'): ChatCompletionContentPart => ({
  type: 'image_url',
  image_url: { url: 'https://images.example.com/photo.png', detail },
});
const withParts = (...parts: ChatCompletionContentPart[]) => [{ role: 'user' as const, content: [{ type: 'text' as const, text: 'Describe these.' }, ...parts] }];

/** Settles every request at once, and counts how many the upstream served and how many the tenant's quota refused. */
async function sendAtOnce(client: OpenAI, request: () => Promise<unknown>): Promise<{ served: number; refused: number }> {
  const outcomes = await Promise.allSettled(Array.from({ length: CONCURRENT_REQUESTS }, request));
  const refusals = outcomes.filter((outcome) => outcome.status === 'rejected').map((outcome) => (outcome as PromiseRejectedResult).reason);
  for (const refusal of refusals) expect(refusal).toMatchObject({ status: 429, code: 'tenant_quota_exceeded' });
  return { served: outcomes.length - refusals.length, refused: refusals.length };
}

describe('Quotas against media parts (e2e)', () => {
  let gateway: GatewayUnderTest;

  beforeAll(async () => {
    gateway = await startGatewayWithSimulator();
  });
  afterEach(() => gateway.simulator.reset());
  afterAll(() => gateway.close());

  const clientOf = async (limits: LimitOverrides) => tenantClient(gateway.url, { apiKey: await createTenant(gateway.app, `media-${randomUUID().slice(0, 8)}`, limits) });

  it('should admit none of 10 concurrent requests of 100 high-detail images that each cost more than a $0.01 quota', async () => {
    const client = await clientOf({ costPerMonthUsd: 0.01 });
    const images = Array.from({ length: 100 }, () => anImage('high'));

    const { served, refused } = await sendAtOnce(client, () =>
      client.chat.completions.create({ model: 'gpt-4.1', messages: withParts(...images), max_tokens: 16 }),
    );

    expect({ served, refused }).toEqual({ served: 0, refused: CONCURRENT_REQUESTS });
    expect(gateway.simulator.calls()).toHaveLength(0);
  });

  it('should admit no more concurrent image requests than the token quota holds at their largest bill', async () => {
    const perRequest = 10 * HIGH_DETAIL_IMAGE_BOUND;
    // Room for 3 requests of 10 images, their text and their 16-token answers; not for a 4th.
    const client = await clientOf({ tokensPerMonth: 3 * perRequest + 1_000 });
    const images = Array.from({ length: 10 }, () => anImage('auto'));
    // The admitted requests hold their reservations until all 10 have asked.
    gateway.simulator.configure({ latencyMs: 1_000 });

    const { served } = await sendAtOnce(client, () => client.chat.completions.create({ model: 'gpt-4o', messages: withParts(...images), max_tokens: 16 }));

    expect(served).toBe(3);
    expect(gateway.simulator.calls()).toHaveLength(3);
  });

  describe('with a $0.001 quota on gpt-4o', () => {
    const quota = { costPerMonthUsd: 0.001 };

    it('should serve a text request that fits it', async () => {
      const client = await clientOf(quota);

      await expect(client.chat.completions.create({ model: 'gpt-4o', messages: withParts(), max_tokens: 16 })).resolves.toBeDefined();
    });

    it('should refuse 150 kB of audio, which can last 150 s (10 tokens a second, at 8 kbit/s)', async () => {
      const client = await clientOf(quota);
      const audio: ChatCompletionContentPart = { type: 'input_audio', input_audio: { data: 'A'.repeat(200_000), format: 'mp3' } };

      const { served } = await sendAtOnce(client, () => client.chat.completions.create({ model: 'gpt-4o', messages: withParts(audio), max_tokens: 16 }));

      expect(served).toBe(0);
    });

    it('should refuse a file, whose text and page images can fill the window', async () => {
      const client = await clientOf(quota);
      const file: ChatCompletionContentPart = { type: 'file', file: { file_id: 'file-abc123' } };

      const { served } = await sendAtOnce(client, () => client.chat.completions.create({ model: 'gpt-4o', messages: withParts(file), max_tokens: 16 }));

      expect(served).toBe(0);
    });
  });
});
