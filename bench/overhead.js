// Overhead of the gateway over its upstream: autocannon against the simulator directly (the
// baseline) and through the gateway (SQLite, a tenant without limits), in one run, alternating
// rounds so that machine noise hits both alike; and the official openai SDK alone against the
// simulator at the same concurrency — the transport every gateway request pays for.
//
//   npm run bench            (builds first)
//   BENCH_SECONDS=10 BENCH_CONNECTIONS=50 BENCH_ROUNDS=3 npm run bench
'use strict';
const { mkdtempSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { SECONDS, CONNECTIONS, CHAT_BODY, startSimulator, startGateway, createTenantKey, load, summary, measure, report } = require('./support');

const NO_LIMITS = { requestsPerMinute: null, tokensPerMinute: null, requestsPerDay: null, tokensPerMonth: null, costPerMonthUsd: null, concurrentRequests: null };

/** The openai SDK in this process, CONNECTIONS calls in flight for SECONDS. */
async function sdkAlone(baseURL) {
  const { default: OpenAI } = await import('openai');
  const client = new OpenAI({ apiKey: 'sk-bench', baseURL, maxRetries: 0 });
  const latencies = [];
  const until = Date.now() + SECONDS * 1000;
  const worker = async () => {
    while (Date.now() < until) {
      const started = performance.now();
      await client.chat.completions.create(JSON.parse(CHAT_BODY));
      latencies.push(performance.now() - started);
    }
  };
  await Promise.all(Array.from({ length: CONNECTIONS }, worker));
  latencies.sort((a, b) => a - b);
  const at = (q) => Math.round(latencies[Math.floor(q * (latencies.length - 1))]);
  return { rps: latencies.length / SECONDS, p50: at(0.5), p99: at(0.99) };
}

async function main() {
  const simulator = await startSimulator();
  const database = join(mkdtempSync(join(tmpdir(), 'tollgate-bench-')), 'bench.sqlite');
  const gateway = await startGateway(simulator.url, { DATABASE_URL: `sqlite:${database}` });
  try {
    const key = await createTenantKey(gateway.url, 'bench', NO_LIMITS);
    const direct = { label: 'simulator direct (baseline)', run: async () => summary(await load(`${simulator.url}/v1/chat/completions`, key)) };
    const rows = await measure([
      direct,
      { label: 'through the gateway (SQLite)', run: async () => summary(await load(`${gateway.url}/v1/chat/completions`, key)) },
      { label: 'openai SDK alone -> simulator', run: () => sdkAlone(`${simulator.url}/v1`) },
    ]);
    report(rows, rows[0]);
  } finally {
    gateway.child.kill('SIGTERM');
    simulator.child.kill('SIGTERM');
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
