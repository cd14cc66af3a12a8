import { UNLIMITED } from '@tollgate/ai';
import Redis from 'ioredis';
import { randomBytes } from 'node:crypto';
import { describeWithRedis } from '../../libs/ai/test/integration/services';
import { aUserMessage, createTenant, GatewayUnderTest, rejectionOf, startGatewayWithSimulator, tenantClient } from '../support/gateway-harness';

const aChat = { model: 'gpt-4o-mini', messages: aUserMessage() };
const TWO_A_MINUTE = { ...UNLIMITED, requestsPerMinute: 2 };

/** Two deployments on one Redis, told apart by REDIS_PREFIX; each gateway here has a database of its own. */
describeWithRedis('REDIS_PREFIX', (redisUrl) => {
  const run = randomBytes(4).toString('hex');
  const prefixA = `tg-a-${run}:`;
  const prefixB = `tg-b-${run}:`;
  const gateways: GatewayUnderTest[] = [];
  let redis: Redis;

  async function gatewayWithPrefix(prefix: string): Promise<{ call: () => Promise<unknown> }> {
    const gateway = await startGatewayWithSimulator({ REDIS_URL: redisUrl, REDIS_PREFIX: prefix });
    gateways.push(gateway);
    // The same tenant id in both deployments: only the prefix keeps their counters apart.
    const apiKey = await createTenant(gateway.app, `shared-${run}`, TWO_A_MINUTE);
    const client = tenantClient(gateway.url, { apiKey });
    return { call: () => client.chat.completions.create(aChat) };
  }

  beforeAll(() => {
    redis = new Redis(redisUrl);
  });
  afterAll(async () => {
    await Promise.all(gateways.map((gateway) => gateway.close()));
    redis.disconnect();
  });

  it('should keep the counters of two deployments apart, and share them within one', async () => {
    const a = await gatewayWithPrefix(prefixA);
    const b = await gatewayWithPrefix(prefixB);
    const aSecondReplica = await gatewayWithPrefix(prefixA);

    await a.call();
    await a.call();
    expect((await rejectionOf(aSecondReplica.call())).status).toBe(429);

    await expect(b.call()).resolves.toBeDefined();
    await expect(b.call()).resolves.toBeDefined();
    expect((await rejectionOf(b.call())).status).toBe(429);
  });

  it('should write every limit key under its prefix', async () => {
    const keysA = await redis.keys(`${prefixA}*`);
    const keysB = await redis.keys(`${prefixB}*`);

    expect(keysA).toContain(`${prefixA}{shared-${run}}:requests`);
    expect(keysB).toContain(`${prefixB}{shared-${run}}:requests`);
    expect(await redis.keys(`tollgate:{shared-${run}}*`)).toEqual([]);
  });
});
