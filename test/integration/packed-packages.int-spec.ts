import type { RunningSimulator } from '@tollgate/simulator';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import type { ChatCompletion, ChatCompletionChunk } from 'openai/resources/chat/completions';
import { Client } from 'pg';
import { eventually } from '../../libs/ai/test/async';
import { describeWithPostgres, postgresDatabases } from '../../libs/ai/test/integration/services';
import {
  CommandResult,
  EntryPoint,
  compileApp,
  createProject,
  installPackages,
  packedSimulator,
  packPackages,
  Platform,
  RunningApp,
  startApp,
  writeAppSources,
  writeTenantAppSources,
} from '../package/packed-app';

interface AppUnderTest {
  name: string;
  platform: Platform;
  /** What its `npm install` names besides the two tarballs. */
  packages: string[];
}

const COMMON_PACKAGES = ['reflect-metadata', 'rxjs', 'openai@^6', 'typescript@~6.0', '@types/node@^20'];

const EXPRESS_APP: AppUnderTest = {
  name: 'a NestJS 11 app on Express',
  platform: 'express',
  packages: ['@nestjs/common@^11', '@nestjs/core@^11', '@nestjs/platform-express@^11', ...COMMON_PACKAGES],
};

// NestJS 12 is ESM only; the app stays CommonJS and loads it through Node's require(esm).
const FASTIFY_APP: AppUnderTest = {
  name: 'a NestJS 12 app on Fastify',
  platform: 'fastify',
  packages: ['@nestjs/common@^12', '@nestjs/core@^12', '@nestjs/platform-fastify@^12', ...COMMON_PACKAGES],
};

/** The optional peers that tenancy on PostgreSQL needs. */
const POSTGRES_PACKAGES = ['typeorm@^1.1', 'pg@^8'];

const PACK_TIMEOUT_MS = 60_000;
const INSTALL_TIMEOUT_MS = 180_000;
const COMPILE_TIMEOUT_MS = 60_000;
const SETUP_TIMEOUT_MS = PACK_TIMEOUT_MS + INSTALL_TIMEOUT_MS + COMPILE_TIMEOUT_MS;
const CALL_TIMEOUT_MS = 30_000;
/** The ledger is written in batches, a second apart by default. */
const LEDGER_FLUSH_WAIT_MS = 10_000;

const MODEL = 'gpt-4o-mini';
const PROMPT = 'Say hello';

/** The app's own tables, named as the library's would be without a prefix, one row each. */
const APP_SCHEMA = `
  CREATE TABLE tenants (id serial PRIMARY KEY, app_column text NOT NULL);
  CREATE TABLE jobs (id serial PRIMARY KEY, app_column text NOT NULL);
  CREATE TABLE plans (id serial PRIMARY KEY, app_column text NOT NULL);
  CREATE TABLE migrations (id serial PRIMARY KEY, "timestamp" bigint NOT NULL, name varchar NOT NULL);
  INSERT INTO tenants (app_column) VALUES ('an app tenant');
  INSERT INTO jobs (app_column) VALUES ('an app job');
  INSERT INTO plans (app_column) VALUES ('an app plan');
  INSERT INTO migrations ("timestamp", name) VALUES (1700000000000, 'AppSchema1700000000000');
`;

/** What `SELECT *` must still return from each app table after the library has started and served a call. */
const APP_ROWS: Record<string, object[]> = {
  tenants: [{ id: 1, app_column: 'an app tenant' }],
  jobs: [{ id: 1, app_column: 'an app job' }],
  plans: [{ id: 1, app_column: 'an app plan' }],
  // pg reads a bigint as a string.
  migrations: [{ id: 1, timestamp: '1700000000000', name: 'AppSchema1700000000000' }],
};

async function connected<T>(databaseUrl: string, work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

function query<T extends object>(databaseUrl: string, sql: string, values: unknown[] = []): Promise<T[]> {
  return connected(databaseUrl, async (client) => (await client.query<T>(sql, values)).rows);
}

/** Statements without results, several at once. */
function execute(databaseUrl: string, sql: string): Promise<void> {
  return connected(databaseUrl, async (client) => void (await client.query(sql)));
}

/** What the simulator answers to the prompt when asked directly: the app must pass it on unchanged. */
async function simulatorAnswer(simulator: RunningSimulator): Promise<string | null> {
  const direct = new OpenAI({ apiKey: 'sk-test', baseURL: simulator.url, maxRetries: 0 });
  const completion = await direct.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: PROMPT }] });
  return completion.choices[0].message.content;
}

function appClient(app: RunningApp): OpenAI {
  return new OpenAI({ apiKey: 'unused', baseURL: app.url, maxRetries: 0 });
}

/** The packed library's optional peers (TypeORM, drivers, Redis, vault SDKs…) that the project has installed. */
function optionalPeersIn(dir: string): string[] {
  const manifest = JSON.parse(readFileSync(join(dir, 'node_modules/@tollgate/ai/package.json'), 'utf8')) as {
    peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  };
  const optional = Object.entries(manifest.peerDependenciesMeta ?? {}).filter(([, meta]) => meta.optional === true);
  return optional.map(([name]) => name).filter((name) => existsSync(join(dir, 'node_modules', name)));
}

/** The `data:` payloads of a server-sent event stream, in order. */
function sseData(text: string): string[] {
  const events = text.split('\n\n').filter((event) => event !== '');
  const notData = events.filter((event) => !event.startsWith('data: '));
  if (notData.length > 0) throw new Error(`events without data: ${JSON.stringify(notData)}`);
  return events.map((event) => event.slice('data: '.length));
}

/** The app of `entry` running against the packed simulator (started in the enclosing describe's beforeAll). */
function appCalls(dir: () => string, entry: EntryPoint, env: () => Record<string, string>) {
  let simulator: RunningSimulator;
  let running: RunningApp;
  let expectedContent: string | null;

  beforeAll(async () => {
    simulator = await packedSimulator(dir()).startSimulator();
    expectedContent = await simulatorAnswer(simulator);
    running = await startApp(dir(), entry, { UPSTREAM_URL: simulator.url, ...env() });
  }, CALL_TIMEOUT_MS);

  afterAll(async () => {
    await running?.stop();
    await simulator?.close();
  });

  return { app: () => running, expectedContent: () => expectedContent };
}

/** A chat call, a stream and an AiError through the exported filter, over HTTP. */
function itAnswersCalls(calls: ReturnType<typeof appCalls>): void {
  it("should answer POST /chat with the simulator's completion", async () => {
    const completion = await appClient(calls.app()).post<ChatCompletion>('/chat', { body: { prompt: PROMPT } });

    expect(completion).toMatchObject({ object: 'chat.completion', model: MODEL });
    expect(completion.choices[0].message.content).toBe(calls.expectedContent());
  }, CALL_TIMEOUT_MS);

  it('should relay POST /stream as data: chunks ending in data: [DONE]', async () => {
    const response = await fetch(`${calls.app().url}/stream`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: PROMPT }),
    });

    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const data = sseData(await response.text());
    expect(data.at(-1)).toBe('[DONE]');
    const chunks = data.slice(0, -1).map((payload) => JSON.parse(payload) as ChatCompletionChunk);
    expect(chunks.length).toBeGreaterThan(1);
    expect(chunks.map((chunk) => chunk.choices[0]?.delta.content ?? '').join('')).toBe(calls.expectedContent());
  }, CALL_TIMEOUT_MS);

  it("should answer GET /boom through OpenAiExceptionFilter as OpenAI's 503 with Retry-After", async () => {
    const response = await fetch(`${calls.app().url}/boom`);

    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('7');
    expect(response.headers.get('retry-after-ms')).toBe('7000');
    expect(await response.json()).toEqual({
      error: { message: expect.stringContaining('Retry-After'), type: 'server_error', code: 'upstream_unavailable', param: null },
    });
  }, CALL_TIMEOUT_MS);
}

describe('@tollgate/ai and @tollgate/simulator, packed and installed outside the workspace', () => {
  const workDir = mkdtempSync(join(tmpdir(), 'tollgate-packed-'));
  const appDir = (app: AppUnderTest) => join(workDir, app.platform);
  const compiled = new Map<Platform, CommandResult>();

  beforeAll(async () => {
    const tarballs = await packPackages(join(workDir, 'tarballs'), PACK_TIMEOUT_MS);
    const tarballPackages = [`file:${tarballs.ai}`, `file:${tarballs.simulator}`];
    await Promise.all(
      [EXPRESS_APP, FASTIFY_APP].map(async (app) => {
        await createProject(appDir(app), [...app.packages, ...tarballPackages], INSTALL_TIMEOUT_MS);
        writeAppSources(appDir(app), app.platform);
        compiled.set(app.platform, await compileApp(appDir(app), COMPILE_TIMEOUT_MS));
      }),
    );
  }, SETUP_TIMEOUT_MS);

  afterAll(() => rmSync(workDir, { recursive: true, force: true }));

  describe.each([EXPRESS_APP, FASTIFY_APP])('in $name, with tenancy off', (app) => {
    const calls = appCalls(() => appDir(app), 'main', () => ({}));

    it('should type-check the app against the packed declarations with skipLibCheck off', () => {
      // tsc says nothing when it finds nothing.
      expect(compiled.get(app.platform)).toEqual({ code: 0, output: '' });
    });

    it('should have run with none of its optional peers installed', () => {
      expect(optionalPeersIn(appDir(app))).toEqual([]);
    });

    itAnswersCalls(calls);
  });

  describeWithPostgres('with tenancy on PostgreSQL', (serverUrl) => {
    const databases = postgresDatabases(serverUrl);

    describe.each([EXPRESS_APP, FASTIFY_APP])("in $name, in a database that holds the app's own tables", (app) => {
      const tenantId = 'packed-app-tenant';
      let databaseUrl: string;
      let tenancyCompiled: CommandResult;

      beforeAll(async () => {
        await installPackages(appDir(app), POSTGRES_PACKAGES, INSTALL_TIMEOUT_MS);
        writeTenantAppSources(appDir(app), app.platform);
        tenancyCompiled = await compileApp(appDir(app), COMPILE_TIMEOUT_MS);
        databaseUrl = await databases.fresh();
        await execute(databaseUrl, APP_SCHEMA);
      }, INSTALL_TIMEOUT_MS + COMPILE_TIMEOUT_MS);

      const calls = appCalls(() => appDir(app), 'tenant-main', () => ({ DATABASE_URL: databaseUrl }));

      it('should type-check the app, @tollgate/ai/tenancy included, with skipLibCheck off', () => {
        expect(tenancyCompiled).toEqual({ code: 0, output: '' });
      });

      itAnswersCalls(calls);

      it('should create its own tables, and its migrations table, with the tollgate_ prefix', async () => {
        const tables = await query<{ table_name: string }>(databaseUrl, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'");
        const names = tables.map((table) => table.table_name);

        expect(names).toEqual(expect.arrayContaining(['tollgate_migrations', 'tollgate_tenants', 'tollgate_usage_ledger']));
        expect(names.filter((name) => !(name in APP_ROWS) && !name.startsWith('tollgate_'))).toEqual([]);
      });

      it("should serve a tenant's call and write it to tollgate_usage_ledger", async () => {
        const client = appClient(calls.app());
        await client.post('/tenants', { body: { id: tenantId } });

        const completion = await client.post<ChatCompletion>(`/tenants/${tenantId}/chat`, { body: { prompt: PROMPT } });

        expect(completion.choices[0].message.content).toBe(calls.expectedContent());
        await eventually(async () => {
          const rows = await query(databaseUrl, 'SELECT tenant_id, model_requested, outcome FROM tollgate_usage_ledger WHERE tenant_id = $1', [tenantId]);
          expect(rows).toEqual([{ tenant_id: tenantId, model_requested: MODEL, outcome: 'success' }]);
        }, LEDGER_FLUSH_WAIT_MS);
      }, CALL_TIMEOUT_MS);

      it("should leave the app's own tables and rows as they were", async () => {
        for (const [table, rows] of Object.entries(APP_ROWS)) {
          expect({ table, rows: await query(databaseUrl, `SELECT * FROM ${table} ORDER BY id`) }).toEqual({ table, rows });
        }
      });
    });
  });
});
