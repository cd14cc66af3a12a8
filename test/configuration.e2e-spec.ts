import { RunningSimulator, startSimulator } from '@tollgate/simulator';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KeyRefusedAtStartError, KeyVerification } from '@tollgate/ai';
import { createGateway } from '../src/create-gateway';
import { CapturedLog, LOG_LEVEL } from './support/captured-log';
import { createTenant, expectNoSecretIn } from './support/gateway-harness';

describe('Start-up configuration', () => {
  const start = (env: Record<string, string>) => createGateway({ NODE_ENV: 'test', OPENAI_API_KEY: 'sk-config-test', ...env }, { log: false });

  it.each([
    ['PORT', { PORT: 'eighty' }],
    ['OPENAI_BASE_URL', { OPENAI_BASE_URL: 'not a url' }],
    ['DATABASE_URL', { DATABASE_URL: 'mysql://db' }],
    ['REDIS_URL', { REDIS_URL: 'localhost:6379' }],
    ['AI_SECRET_PROVIDER', { AI_SECRET_PROVIDER: 'vault' }],
    ['AI_TOTAL_TIMEOUT_MS', { AI_TOTAL_TIMEOUT_MS: '-5' }],
    ['AI_FALLBACK_MODELS', { AI_FALLBACK_MODELS: 'gpt-4o' }],
    ['NODE_ENV', { NODE_ENV: 'staging' }],
  ])('should refuse to start on a bad %s, naming it', async (variable, env) => {
    await expect(start(env)).rejects.toThrow(new RegExp(`^Invalid configuration[\\s\\S]*${variable}`));
  });

  it('should refuse to start in production without an upstream key, naming the provider and never a value', async () => {
    const error = await start({ NODE_ENV: 'production', OPENAI_API_KEY: '', ADMIN_TOKEN: 'admin-token-0123456789' }).catch((e: Error) => e);

    expect((error as Error).message).toContain('OPENAI_API_KEY is required in production (AI_SECRET_PROVIDER=env)');
  });

  it('should refuse to start in production without an admin token', async () => {
    const error = await start({ NODE_ENV: 'production' }).catch((e: Error) => e);

    expect((error as Error).message).toContain('ADMIN_TOKEN is required in production');
    expect((error as Error).message).not.toContain('sk-config-test');
  });

  it('should serve from the built-in simulator outside production when no key is set', async () => {
    const app = await createGateway({ NODE_ENV: 'development', DATABASE_URL: 'sqlite::memory:' }, { log: false });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const key = await createTenant(app, 'config-test');

    const response = await fetch(`${await app.getUrl()}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
    });

    expect(response.status).toBe(200);
    expect(((await response.json()) as { system_fingerprint: string }).system_fingerprint).toBe('fp_simulator');
    await app.close();
  });
});

describe('Start-up checks of the upstream key and the demo data', () => {
  let simulator: RunningSimulator;

  beforeAll(async () => {
    simulator = await startSimulator({ acceptedKeys: ['sk-accepted-key-000000000000'] });
  });
  afterAll(() => simulator.close());

  async function startWithKey(apiKey: string, log: CapturedLog) {
    const app = await createGateway(
      { NODE_ENV: 'test', OPENAI_BASE_URL: simulator.url, OPENAI_API_KEY: apiKey, DATABASE_URL: 'sqlite::memory:', AI_VERIFY_KEY_ON_START: 'true' },
      { log },
    );
    await app.listen({ port: 0, host: '127.0.0.1' });
    await app.get(KeyVerification).settled();
    return app;
  }

  it('should say in the log that the upstream accepted the key, and be ready', async () => {
    const log = new CapturedLog();
    const app = await startWithKey('sk-accepted-key-000000000000', log);

    const ready = await fetch(`${await app.getUrl()}/health/ready`);

    expect(log.lines.some((line) => line.includes('The upstream accepted the key'))).toBe(true);
    expect(ready.status).toBe(200);
    await app.close();
  });

  it('should say in the log that the upstream refused the key, and not be ready', async () => {
    const log = new CapturedLog();
    const app = await startWithKey('sk-refused-key-1111111111111', log);

    const ready = await fetch(`${await app.getUrl()}/health/ready`);

    expect(log.entries().some((entry) => entry.level === LOG_LEVEL.error && String(entry.msg).includes('REFUSED the key'))).toBe(true);
    expect(ready.status).toBe(503);
    expectNoSecretIn(log.lines, ['sk-refused-key-1111111111111']);
    await app.close();
  });

  it('should stop the start with AI_REQUIRE_VERIFIED_KEY when the upstream refuses the key, naming its secret and never its value', async () => {
    const env = { NODE_ENV: 'test', OPENAI_BASE_URL: simulator.url, OPENAI_API_KEY: 'sk-refused-key-1111111111111', DATABASE_URL: 'sqlite::memory:', AI_REQUIRE_VERIFIED_KEY: 'true' };

    const error = await createGateway(env, { log: false }).catch((e: Error) => e);

    expect(error).toBeInstanceOf(KeyRefusedAtStartError);
    expect((error as Error).message).toMatch(/upstream openai, key key-1 \(fingerprint \w+\), read from OPENAI_API_KEY \(AI_SECRET_PROVIDER=env\): refused \(401\)/);
    expect((error as Error).message).not.toContain('sk-refused-key-1111111111111');
  });

  it('should start with AI_REQUIRE_VERIFIED_KEY when the upstream accepts the key, and answer /health/startup', async () => {
    const log = new CapturedLog();
    const app = await createGateway(
      { NODE_ENV: 'test', OPENAI_BASE_URL: simulator.url, OPENAI_API_KEY: 'sk-accepted-key-000000000000', DATABASE_URL: 'sqlite::memory:', AI_REQUIRE_VERIFIED_KEY: 'true' },
      { log },
    );
    await app.listen({ port: 0, host: '127.0.0.1' });

    const startup = await fetch(`${await app.getUrl()}/health/startup`);

    expect(startup.status).toBe(200);
    expect(await startup.json()).toMatchObject({ status: 'ok', info: { startup: { status: 'up', keys: [{ upstream: 'openai', key: 'key-1', verified: 'accepted' }] } } });
    await app.close();
  });

  it('should start without waiting for a slow upstream, failing /health/startup and readiness until the key is verified', async () => {
    const silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const app = await createGateway(
      { NODE_ENV: 'test', OPENAI_BASE_URL: `http://127.0.0.1:${(silent.address() as AddressInfo).port}/v1`, OPENAI_API_KEY: 'sk-slow-upstream-000000000000', DATABASE_URL: 'sqlite::memory:', AI_VERIFY_KEY_ON_START: 'true' },
      { log: false },
    );
    await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const startup = await fetch(`${await app.getUrl()}/health/startup`);

      expect(startup.status).toBe(503);
      expect(await startup.json()).toMatchObject({ error: { startup: { status: 'down', keys: [{ verified: 'unverified' }] } } });
      expect((await fetch(`${await app.getUrl()}/health/ready`)).status).toBe(503);
      expect((await fetch(`${await app.getUrl()}/health/live`)).status).toBe(200);
    } finally {
      await app.close();
      silent.closeAllConnections();
      silent.close();
    }
  });

  it('should answer /health/startup after a start that refused the key without AI_REQUIRE_VERIFIED_KEY, while readiness fails', async () => {
    const app = await startWithKey('sk-refused-key-1111111111111', new CapturedLog());

    const startup = await fetch(`${await app.getUrl()}/health/startup`);

    expect(startup.status).toBe(200);
    expect(await startup.json()).toMatchObject({ info: { startup: { keys: [{ verified: 'refused' }] } } });
    expect((await fetch(`${await app.getUrl()}/health/ready`)).status).toBe(503);
    await app.close();
  });

  // NODE_ENV=test: one run's token and a key shown once; development keeps both (test/start-output.e2e-spec.ts).
  it('should create the demo tenant outside production and show its key and the admin token once', async () => {
    const printed: string[] = [];
    const write = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      printed.push(String(chunk));
      return true;
    });
    const database = `sqlite:${join(mkdtempSync(join(tmpdir(), 'tollgate-demo-')), 'demo.sqlite')}`;
    try {
      const first = await createGateway({ NODE_ENV: 'test', DATABASE_URL: database, OPENAI_API_KEY: 'sk-demo-upstream' }, { log: false });
      await first.init();
      await first.close();
      const second = await createGateway({ NODE_ENV: 'test', DATABASE_URL: database, OPENAI_API_KEY: 'sk-demo-upstream' }, { log: false });
      await second.init();
      await second.close();
    } finally {
      write.mockRestore();
    }

    const banners = printed.join('');
    const demoKeys = banners.match(/Its API key, shown only now: (tg-\S+)/g) ?? [];
    expect(demoKeys).toHaveLength(1);
    expect(banners.match(/Admin token for this run/g)).toHaveLength(2);
  });
});
