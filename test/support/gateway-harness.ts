import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { RunningSimulator, startSimulator } from '@tollgate/simulator';
import { KeyVerification, LimitOverrides, UNLIMITED } from '@tollgate/ai';
import { ApiKeyService, TenantService } from '@tollgate/ai/tenancy';
import { randomUUID } from 'node:crypto';
import OpenAI from 'openai';
import { Environment } from '../../src/app.module';
import { createGateway } from '../../src/create-gateway';
import { CapturedLog } from './captured-log';

export const UPSTREAM_KEY = 'sk-upstream-e2e-0123456789';

/** Short limits so that timeout and retry cases finish fast; each suite overrides what it tests. */
export const FAST_POLICIES: Environment = {
  AI_FIRST_BYTE_TIMEOUT_MS: '1500',
  AI_STREAM_IDLE_TIMEOUT_MS: '1500',
  AI_TOTAL_TIMEOUT_MS: '4000',
  AI_RETRY_BASE_DELAY_MS: '20',
  AI_BREAKER_RESET_MS: '60000',
};

export interface GatewayUnderTest {
  app: NestFastifyApplication;
  simulator: RunningSimulator;
  /** The gateway's base URL, e.g. http://127.0.0.1:41234 */
  url: string;
  /** The official OpenAI SDK, pointed at the gateway as a tenant would point it. */
  client: OpenAI;
  /** The key of the suite's tenant. */
  tenantKey: string;
  /** Every line the gateway logged. */
  log: CapturedLog;
  close(): Promise<void>;
}

export const ADMIN_TOKEN = 'e2e-admin-token-0123456789';

/**
 * A simulator and a gateway in front of it, both listening on loopback ports, with one tenant
 * without limits (so that limits never interfere with what a suite tests) and a client with its key.
 * Everything the gateway logs is captured; `close()` fails the suite if a line holds a secret.
 */
export async function startGatewayWithSimulator(env: Environment = {}): Promise<GatewayUnderTest> {
  const simulator = await startSimulator();
  const log = new CapturedLog();
  const app = await createGateway(
    { NODE_ENV: 'test', OPENAI_BASE_URL: simulator.url, OPENAI_API_KEY: UPSTREAM_KEY, ADMIN_TOKEN, DATABASE_URL: 'sqlite::memory:', ...FAST_POLICIES, ...env },
    { log },
  );
  await app.listen({ port: 0, host: '127.0.0.1' });
  // The start does not wait for the upstream keys' verification (AI_VERIFY_KEY_ON_START); the tests do.
  await app.get(KeyVerification).settled();
  const url = await app.getUrl();
  const tenantKey = await createTenant(app, `e2e-${randomUUID().slice(0, 8)}`, UNLIMITED);
  return {
    app,
    simulator,
    url,
    tenantKey,
    log,
    client: tenantClient(url, { apiKey: tenantKey }),
    close: async () => {
      await app.close();
      await simulator.close();
      expectNoSecretIn(log.lines, [UPSTREAM_KEY, ADMIN_TOKEN, tenantKey, ...issuedKeys]);
    },
  };
}

/** Every tenant key the harness issued in this worker, so that log scans look for them too. */
const issuedKeys: string[] = [];

/** Fails with the offending line if any log line holds any of the secrets. */
export function expectNoSecretIn(lines: string[], secrets: string[]): void {
  const leaks = lines.filter((line) => secrets.some((secret) => line.includes(secret)));
  expect(leaks).toEqual([]);
}

/** Creates a tenant through the library, as the admin API does, and returns a fresh key of it. */
export async function createTenant(app: NestFastifyApplication, id: string, limits: LimitOverrides = {}, plan?: string): Promise<string> {
  await app.get(TenantService).create({ id, name: id, plan });
  await app.get(TenantService).setLimits(id, limits);
  const { key } = await app.get(ApiKeyService).issue(id);
  issuedKeys.push(key);
  return key;
}

export function tenantClient(gatewayUrl: string, options: Partial<ConstructorParameters<typeof OpenAI>[0]> = {}): OpenAI {
  return new OpenAI({ apiKey: 'tenant-key', baseURL: `${gatewayUrl}/v1`, maxRetries: 0, ...options });
}

export const aUserMessage = (content = 'Say hello.') => [{ role: 'user' as const, content }];

/** Resolves to the error a promise rejected with, failing the test if it resolved. */
export async function rejectionOf(promise: Promise<unknown>): Promise<InstanceType<typeof OpenAI.APIError>> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof OpenAI.APIError) return error;
    throw error;
  }
  throw new Error('expected the call to fail, it succeeded');
}

export { eventually } from '../../libs/ai/test/async';
