import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GatewayConfig, loadGatewayConfig } from './config/gateway-config';
import { startSummary } from './start-summary';

const LISTENING = 'http://127.0.0.1:3000';
const PRODUCTION = {
  NODE_ENV: 'production',
  OPENAI_API_KEY: 'sk-summary-test-0123456789',
  ADMIN_TOKEN: 'admin-token-0123456789',
  METRICS_TOKEN: 'metrics-token-0123456789',
  DATABASE_URL: 'postgres://tollgate:s3cret-password@db.internal:5432/tollgate',
};

const configFor = (env: Record<string, string>): GatewayConfig => loadGatewayConfig({ NODE_ENV: 'test', ...env });
const lineOf = (lines: string[], label: string) => lines.filter((line) => line.startsWith(`${label} `));

describe(startSummary.name, () => {
  it('should start with the listening URL', () => {
    expect(startSummary(configFor({}), LISTENING)[0]).toBe('Gateway listening on http://127.0.0.1:3000');
  });

  it('should name the SQLite file, or say that an in-memory one keeps nothing', () => {
    expect(lineOf(startSummary(configFor({ DATABASE_URL: 'sqlite:./data/tollgate.sqlite' }), LISTENING), 'database')).toEqual([
      'database  SQLite ./data/tollgate.sqlite',
    ]);
    expect(lineOf(startSummary(configFor({ DATABASE_URL: 'sqlite::memory:' }), LISTENING), 'database')).toEqual([
      'database  SQLite in memory: nothing is kept after the process ends',
    ]);
  });

  it('should name the PostgreSQL host and database, never its user or password', () => {
    const lines = startSummary(configFor(PRODUCTION), LISTENING);

    expect(lineOf(lines, 'database')).toEqual(['database  PostgreSQL database tollgate on db.internal:5432']);
    expect(lines.join('\n')).not.toMatch(/s3cret-password|tollgate:/);
  });

  it('should name the Redis host without its password, or say that limits are counted in the process', () => {
    const lines = startSummary(configFor({ REDIS_URL: 'rediss://:redis-password@cache.internal:6380/2' }), LISTENING);

    expect(lineOf(lines, 'limits')).toEqual(['limits    Redis cache.internal:6380 (TLS): shared by every replica']);
    expect(lines.join('\n')).not.toContain('redis-password');
    expect(lineOf(startSummary(configFor({}), LISTENING), 'limits')).toEqual([
      'limits    in this process: each replica counts its own (set REDIS_URL to share them)',
    ]);
  });

  it('should say SIMULATOR when no upstream key is set', () => {
    expect(lineOf(startSummary(configFor({}), LISTENING), 'upstream')).toEqual([
      'upstream  SIMULATOR: the built-in simulator makes up every answer, nothing reaches OpenAI (set OPENAI_API_KEY to use it)',
    ]);
  });

  it("should name a real upstream's base LISTENING and where its key is read from, without the key", () => {
    const env = configFor({ OPENAI_API_KEY: 'sk-summary-test-0123456789', OPENAI_BASE_URL: 'https://user:pass@llm.example.com/v1' });
    const lines = startSummary(env, LISTENING);

    expect(lineOf(lines, 'upstream')).toEqual(['upstream  https://llm.example.com/v1, key from OPENAI_API_KEY']);
    expect(lines.join('\n')).not.toMatch(/sk-summary|pass@/);
    const fromFile = configFor({ AI_SECRET_PROVIDER: 'file', OPENAI_API_KEY_FILE: '/run/secrets/openai' });
    expect(lineOf(startSummary(fromFile, LISTENING), 'upstream')).toEqual(['upstream  https://api.openai.com/v1, key from the file /run/secrets/openai']);
  });

  it('should give one line to each upstream of config/upstreams.yaml', () => {
    const config: GatewayConfig = {
      ...configFor({}),
      upstreamsFile: {
        path: 'config/upstreams.yaml',
        upstreams: [
          { name: 'openai-main', kind: 'openai', baseURL: 'https://api.openai.com/v1', keys: [{ secret: { provider: 'env', apiKey: 'sk-a-0123456789' } }] },
          {
            name: 'azure-eu',
            kind: 'azure',
            baseURL: 'https://eu.openai.azure.com/openai/v1',
            keys: [{ secret: { provider: 'file', path: '/run/a' } }, { secret: { provider: 'file', path: '/run/b' } }],
          },
        ],
      },
    };

    expect(lineOf(startSummary(config, LISTENING), 'upstream')).toEqual([
      'upstream  openai-main (openai) https://api.openai.com/v1, 1 key, from config/upstreams.yaml',
      'upstream  azure-eu (azure) https://eu.openai.azure.com/openai/v1, 2 keys, from config/upstreams.yaml',
    ]);
  });

  it('should give the docs and console URLs outside production, and say how to turn them on in production', () => {
    expect(lineOf(startSummary(configFor({}), LISTENING), 'docs')).toEqual(['docs      http://127.0.0.1:3000/docs']);
    expect(lineOf(startSummary(configFor({}), LISTENING), 'console')).toEqual(['console   http://127.0.0.1:3000/console']);

    const production = startSummary(configFor(PRODUCTION), LISTENING);
    expect(lineOf(production, 'docs')).toEqual(['docs      off (DOCS_ENABLED=true serves /docs)']);
    expect(lineOf(production, 'console')).toEqual(['console   off (CONSOLE_ENABLED=true serves /console)']);
  });

  describe('the admin token', () => {
    let dir: string;

    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'tollgate-summary-'));
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it('should say it comes from ADMIN_TOKEN when set, never what it is', () => {
      const lines = startSummary(configFor({ ADMIN_TOKEN: 'chosen-admin-token-0123' }), LISTENING);

      expect(lineOf(lines, 'admin')).toEqual(['admin     token from ADMIN_TOKEN']);
      expect(lines.join('\n')).not.toContain('chosen-admin-token-0123');
    });

    it('should say where development keeps the generated one', () => {
      const config = configFor({ NODE_ENV: 'development', DATABASE_URL: `sqlite:${dir}/tollgate.sqlite` });

      expect(lineOf(startSummary(config, LISTENING), 'admin')).toEqual([
        `admin     token kept in ${dir}/dev-credentials.env, with the demo key (set ADMIN_TOKEN to choose one)`,
      ]);
    });

    it('should say that one generated outside development lasts this run', () => {
      expect(lineOf(startSummary(configFor({}), LISTENING), 'admin')).toEqual(['admin     token generated for this run, shown above (set ADMIN_TOKEN to choose one)']);
    });
  });

  it('should hold, in this order, the listening URL, database, limits, upstream, docs, console and admin lines', () => {
    const labels = startSummary(configFor({}), LISTENING).map((line) => line.split(' ')[0]);

    expect(labels).toEqual(['Gateway', 'database', 'limits', 'upstream', 'docs', 'console', 'admin']);
  });
});
