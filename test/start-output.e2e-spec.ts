import { RunningSimulator, startSimulator } from '@tollgate/simulator';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually } from './support/gateway-harness';
import { GatewayProcess, startGatewayProcess } from './support/gateway-process';

/**
 * What `npm start` prints and keeps, from a gateway process of its own: readable lines in development and
 * JSON in production, one start summary, and development credentials that survive a restart.
 */
describe('The start', () => {
  let dir: string;
  let gateway: GatewayProcess | undefined;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tollgate-start-'));
  });
  afterEach(async () => {
    await gateway?.kill();
    gateway = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  /** Starts the gateway and waits for the last line of its start summary. */
  const start = async (env: Record<string, string>) => {
    gateway = await startGatewayProcess({ DATABASE_URL: `sqlite:${join(dir, 'tollgate.sqlite')}`, ...env });
    await eventually(() => expect(gateway!.output()).toMatch(/admin {5}token/));
    return gateway;
  };
  const restart = async (env: Record<string, string>) => {
    await gateway?.kill();
    return start(env);
  };
  const credentialsFile = () => join(dir, 'dev-credentials.env');
  const credentials = () => Object.fromEntries([...readFileSync(credentialsFile(), 'utf8').matchAll(/^([A-Z_]+)=(.+)$/gm)].map(([, name, value]) => [name, value]));
  const statusOf = async (url: string, token: string) => (await fetch(url, { headers: { authorization: `Bearer ${token}` } })).status;

  describe('in development', () => {
    const DEVELOPMENT = { NODE_ENV: 'development' };

    it('should print readable lines, none of Nest’s route list, and one start summary that says SIMULATOR', async () => {
      const { output } = await start(DEVELOPMENT);

      expect(output()).not.toMatch(/^\{"level"/m);
      expect(output()).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] WARN: \[Upstream\] No OPENAI_API_KEY is set: serving every request from the built-in SIMULATOR/m);
      expect(output()).not.toContain('Mapped {');
      expect(output().match(/Gateway listening on/g)).toHaveLength(1);
      expect(output()).toMatch(/INFO: \[Tollgate\] Gateway listening on http:\/\/127\.0\.0\.1:\d+\n {2}database {2}SQLite .*tollgate\.sqlite\n/);
      expect(output()).toMatch(/^ {2}upstream {2}SIMULATOR: /m);
    }, 60_000);

    it('should keep the admin token and the demo key across a restart, in a file only its owner can read', async () => {
      const first = await start(DEVELOPMENT);
      const kept = credentials();
      expect(statSync(credentialsFile()).mode & 0o777).toBe(0o600);
      expect(kept).toEqual({ ADMIN_TOKEN: expect.any(String), DEMO_KEY: expect.stringMatching(/^tg-/) });
      expect(first.output()).toContain(`Created tenant 'demo'. Its API key (kept in ${credentialsFile()}): ${kept.DEMO_KEY}`);
      expect(await statusOf(`${first.url}/admin/tenants`, kept.ADMIN_TOKEN)).toBe(200);

      const second = await restart(DEVELOPMENT);

      expect(credentials()).toEqual(kept);
      expect(second.output()).toContain(`Admin token (kept in ${credentialsFile()}; set ADMIN_TOKEN to choose one): ${kept.ADMIN_TOKEN}`);
      expect(second.output()).toContain(`Tenant 'demo': its API key is kept in ${credentialsFile()}`);
      expect(await statusOf(`${second.url}/admin/tenants`, kept.ADMIN_TOKEN)).toBe(200);
      expect(await statusOf(`${second.url}/v1/models`, kept.DEMO_KEY)).toBe(200);
    }, 60_000);

    it('should let an ADMIN_TOKEN set explicitly win without writing it down, and say how to issue a demo key the file lost', async () => {
      await start(DEVELOPMENT);
      const kept = credentials();
      writeFileSync(credentialsFile(), `ADMIN_TOKEN=${kept.ADMIN_TOKEN}\n`);

      const chosen = await restart({ ...DEVELOPMENT, ADMIN_TOKEN: 'chosen-admin-token-0123456789' });

      expect(await statusOf(`${chosen.url}/admin/tenants`, 'chosen-admin-token-0123456789')).toBe(200);
      expect(await statusOf(`${chosen.url}/admin/tenants`, kept.ADMIN_TOKEN)).toBe(401);
      expect(credentials()).toEqual({ ADMIN_TOKEN: kept.ADMIN_TOKEN });
      expect(chosen.output()).toContain(`Tenant 'demo' exists, but ${credentialsFile()} holds no working key of it`);
      expect(chosen.output()).toMatch(/curl -s -X POST localhost:0\/admin\/tenants\/demo\/keys -H "authorization: Bearer \$ADMIN_TOKEN"/);
      expect(chosen.output()).toMatch(/^ {2}admin {5}token from ADMIN_TOKEN$/m);
    }, 60_000);

    it('should write JSON lines when LOG_FORMAT=json says so', async () => {
      const { output } = await start({ ...DEVELOPMENT, LOG_FORMAT: 'json' });
      const logLines = output()
        .split('\n')
        .filter((line) => /^[[{]/.test(line));

      expect(logLines.length).toBeGreaterThan(0);
      expect(logLines.map((line) => JSON.parse(line) as { level: number })).toEqual(logLines.map(() => expect.objectContaining({ level: expect.any(Number) })));
    }, 60_000);
  });

  describe('in production', () => {
    let simulator: RunningSimulator;

    beforeAll(async () => {
      simulator = await startSimulator();
    });
    afterAll(() => simulator.close());

    it('should write only JSON lines, the summary among them, and keep no credentials file', async () => {
      const { output } = await start({
        NODE_ENV: 'production',
        OPENAI_BASE_URL: simulator.url,
        OPENAI_API_KEY: 'sk-start-output-0123456789',
        ADMIN_TOKEN: 'production-admin-token-0123',
        METRICS_TOKEN: 'production-metrics-token-0123',
      });
      const lines = output().split('\n').filter(Boolean);
      const entries = lines.map((line) => JSON.parse(line) as { msg?: string });

      const summaries = entries.filter((entry) => entry.msg?.startsWith('Gateway listening on'));
      expect(summaries).toHaveLength(1);
      expect(summaries[0].msg).toContain(`\n  upstream  ${simulator.url}, key from OPENAI_API_KEY\n`);
      expect(summaries[0].msg).toContain('\n  docs      off (DOCS_ENABLED=true serves /docs)\n');
      expect(output()).not.toContain("tenant 'demo'");
      expect(readdirSync(dir)).not.toContain('dev-credentials.env');
    }, 60_000);
  });
});
