// The gateway with every governance check on (a tenant with request and token rate limits, an
// in-flight limit and quotas — all generous, so none refuses): on SQLite with in-process limits,
// and on PostgreSQL with Redis limits, against the simulator direct as the baseline, in one run.
//
//   npm run bench:governance   (builds first; BENCH_DATABASE_URL, BENCH_REDIS_URL point at the services)
'use strict';
const { mkdtempSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { Client } = require('pg');
const { startSimulator, startGateway, createTenantKey, load, summary, measure, report } = require('./support');

const SERVER_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const LIMITS = {
  requestsPerMinute: 10_000_000,
  tokensPerMinute: 1_000_000_000,
  requestsPerDay: 100_000_000,
  tokensPerMonth: 10_000_000_000,
  costPerMonthUsd: 1_000_000,
  concurrentRequests: 10_000,
};

/** A fresh PostgreSQL database for this run; returns its URL and a function that drops it. */
async function freshPostgres() {
  const name = `tollgate_bench_${Date.now()}`;
  const admin = new Client({ connectionString: SERVER_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(SERVER_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    },
  };
}

async function main() {
  const simulator = await startSimulator();
  const postgres = await freshPostgres();
  const sqliteFile = join(mkdtempSync(join(tmpdir(), 'tollgate-bench-')), 'bench.sqlite');
  const embedded = await startGateway(simulator.url, { DATABASE_URL: `sqlite:${sqliteFile}` });
  const shared = await startGateway(simulator.url, { DATABASE_URL: postgres.url, REDIS_URL: `${REDIS_URL}` });
  try {
    const tenant = `bench-${Date.now()}`;
    const embeddedKey = await createTenantKey(embedded.url, tenant, LIMITS);
    const sharedKey = await createTenantKey(shared.url, tenant, LIMITS);
    const rows = await measure([
      { label: 'simulator direct (baseline)', run: async () => summary(await load(`${simulator.url}/v1/chat/completions`, embeddedKey)) },
      { label: 'gateway, SQLite + in-process limits', run: async () => summary(await load(`${embedded.url}/v1/chat/completions`, embeddedKey)) },
      { label: 'gateway, PostgreSQL + Redis', run: async () => summary(await load(`${shared.url}/v1/chat/completions`, sharedKey)) },
    ]);
    report(rows, rows[0]);
  } finally {
    embedded.child.kill('SIGTERM');
    shared.child.kill('SIGTERM');
    simulator.child.kill('SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 500));
    await postgres.drop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
