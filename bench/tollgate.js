// The gateway as built (dist/main.js), production mode, its request log on, in front of the fake
// upstream: on SQLite, or on a fresh PostgreSQL database with Redis. Its tenants have every limit
// set — so each is checked, reserved and settled on every request — and set too high to refuse.
'use strict';
const { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { Client } = require('pg');
const Redis = require('ioredis');
const { ADMIN_TOKEN, METRICS_TOKEN, startProcess, stopProcess, createTenantKey } = require('./support');

const POSTGRES_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const NEVER_REFUSING_LIMITS = {
  requestsPerMinute: 10_000_000,
  tokensPerMinute: 1_000_000_000,
  requestsPerDay: 100_000_000,
  tokensPerMonth: 10_000_000_000,
  costPerMonthUsd: 1_000_000,
  concurrentRequests: 10_000,
};

/** A database of this run's own on the PostgreSQL server, and how to drop it. */
async function freshPostgres(runId) {
  const name = `tollgate_bench_${runId}`;
  const server = new Client({ connectionString: POSTGRES_URL });
  await server.connect();
  await server.query(`CREATE DATABASE ${name}`);
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${name}`;
  const drop = async () => {
    await server.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await server.end();
  };
  return { url: url.toString(), drop };
}

/** Redis is shared with others: delete only the keys that name this run (its tenants and job queue). */
async function deleteRunKeys(runId) {
  const redis = new Redis(REDIS_URL);
  for await (const keys of redis.scanStream({ match: `*${runId}*`, count: 1000 })) if (keys.length > 0) await redis.unlink(...keys);
  await redis.quit();
}

/** A config folder whose upstreams.yaml gives the one upstream `keys` keys of equal weight (read from BENCH_KEY_n). */
function configWithKeys(folder, upstreamUrl, keys) {
  const configDir = join(folder, 'config');
  mkdirSync(configDir);
  for (const file of ['models.yaml', 'plans.yaml']) copyFileSync(join(__dirname, '..', 'config', file), join(configDir, file));
  const entries = Array.from({ length: keys }, (_, i) => `      - { name: key-${i + 1}, secret: { provider: env, name: BENCH_KEY_${i + 1} } }`);
  writeFileSync(join(configDir, 'upstreams.yaml'), ['upstreams:', '  - name: bench', `    baseUrl: ${upstreamUrl}/v1`, '    keys:', ...entries, ''].join('\n'));
  const env = Object.fromEntries(Array.from({ length: keys }, (_, i) => [`BENCH_KEY_${i + 1}`, `sk-bench-upstream-${i + 1}`]));
  return { CONFIG_DIR: configDir, ...env };
}

/**
 * Starts the gateway with the probe preloaded and creates `tenants` tenants; with `upstreamKeys`, its one upstream has that
 * many keys (config/upstreams.yaml) instead of OPENAI_API_KEY's one.
 * `store` is 'sqlite' or 'postgres' (PostgreSQL + Redis). Resolves with its child process, URL,
 * the tenants' keys and `stop`, which also removes the run's database and Redis keys.
 */
async function startTollgate({ upstreamUrl, store, runId, tenants, upstreamKeys }) {
  const folder = mkdtempSync(join(tmpdir(), 'tollgate-bench-'));
  const keysEnv = upstreamKeys ? configWithKeys(folder, upstreamUrl, upstreamKeys) : {};
  const postgres = store === 'postgres' ? await freshPostgres(runId) : undefined;
  const storeEnv = postgres
    ? { DATABASE_URL: postgres.url, REDIS_URL, AI_JOBS_QUEUE_PREFIX: `tollgate_bench_${runId}` }
    : { DATABASE_URL: `sqlite:${join(folder, 'bench.sqlite')}` };
  const { child, url } = await startProcess(
    'dist/main.js',
    {
      NODE_ENV: 'production',
      LOG_LEVEL: 'info',
      PORT: '0',
      OPENAI_BASE_URL: `${upstreamUrl}/v1`,
      OPENAI_API_KEY: 'sk-bench-upstream',
      OPENAI_STATUS_URL: `${upstreamUrl}/status.json`,
      ADMIN_TOKEN,
      METRICS_TOKEN,
      // Shutdown's readiness delay is for load balancers; the benchmark has none to wait for.
      SHUTDOWN_READINESS_DELAY_MS: '0',
      ...storeEnv,
      ...keysEnv,
    },
    { probe: true },
  );
  const keys = [];
  for (let i = 0; i < tenants; i++) keys.push(await createTenantKey(url, `bench-${runId}-${i}`, NEVER_REFUSING_LIMITS));
  const stop = async () => {
    await stopProcess(child);
    if (postgres) await Promise.all([postgres.drop(), deleteRunKeys(runId)]);
    rmSync(folder, { recursive: true, force: true });
  };
  return { child, url, keys, stop };
}

module.exports = { startTollgate };
