// Memory under steady load: the gateway (built, production mode, SQLite, a tenant with every limit
// set too high to refuse) runs in this process, the load comes from a child process, and after every
// 10,000 requests a full garbage collection is forced and RSS and the heap are read.
//
//   npm run bench:memory      (builds first; node --expose-gc)
//   BENCH_MEMORY_REQUESTS=50000 BENCH_CONNECTIONS=50 npm run bench:memory
'use strict';
const { fork } = require('node:child_process');
const { mkdtempSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { CONNECTIONS, CHAT_BODY, startSimulator, createTenantKey } = require('./support');

const TOTAL = Number(process.env.BENCH_MEMORY_REQUESTS ?? 50_000);
const STEP = 10_000;
const MB = 1024 * 1024;
// Every limit on, set too high to refuse: each call takes its rate limits and a slot and reserves from a lease.
const NEVER_REFUSING_LIMITS = { requestsPerMinute: 10_000_000, tokensPerMinute: 1_000_000_000, requestsPerDay: 100_000_000, tokensPerMonth: 10_000_000_000, costPerMonthUsd: 1_000_000, concurrentRequests: 10_000 };

if (process.argv[2] === 'load') {
  // The child: `amount` requests at CONNECTIONS in flight, then report how many failed.
  const autocannon = require('autocannon');
  process.once('message', ({ url, key, amount }) => {
    autocannon(
      { url, method: 'POST', connections: CONNECTIONS, amount, timeout: 60, headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body: CHAT_BODY },
      (error, result) => process.send({ error: error?.message, failed: result ? result.non2xx + result.errors + result.timeouts : amount, detail: result && { non2xx: result.non2xx, errors: result.errors, timeouts: result.timeouts, codes: result.statusCodeStats, duration: result.duration } }, () => process.exit(0)),
    );
  });
  return;
}

function loadFromChild(url, key, amount) {
  return new Promise((resolve, reject) => {
    const child = fork(__filename, ['load']);
    child.once('message', ({ error, failed, detail }) => (error || failed > 0 ? reject(new Error(error ?? `${failed} requests failed: ${JSON.stringify(detail)}`)) : resolve()));
    child.send({ url, key, amount });
  });
}

function afterGc() {
  for (let i = 0; i < 3; i++) global.gc();
  const { rss, heapUsed } = process.memoryUsage();
  return { rss: rss / MB, heap: heapUsed / MB };
}

async function main() {
  if (typeof global.gc !== 'function') throw new Error('run with node --expose-gc (npm run bench:memory does)');
  const simulator = await startSimulator();
  const { createGateway } = require('../dist/create-gateway');
  const database = join(mkdtempSync(join(tmpdir(), 'tollgate-bench-memory-')), 'bench.sqlite');
  const env = { NODE_ENV: 'production', OPENAI_BASE_URL: `${simulator.url}/v1`, OPENAI_API_KEY: 'sk-bench-upstream', ADMIN_TOKEN: 'bench-admin-token-0123456789', METRICS_TOKEN: 'bench-metrics-token-0123456789', DATABASE_URL: `sqlite:${database}` };
  const app = await createGateway(env, { log: false });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const url = await app.getUrl();
  try {
    const key = await createTenantKey(url, 'bench-memory', NEVER_REFUSING_LIMITS);
    await loadFromChild(`${url}/v1/chat/completions`, key, STEP); // warm-up: JIT, pools, caches
    const samples = [{ requests: 0, ...afterGc() }];
    for (let done = STEP; done <= TOTAL; done += STEP) {
      await loadFromChild(`${url}/v1/chat/completions`, key, STEP);
      samples.push({ requests: done, ...afterGc() });
    }
    console.log(`\nMemory after a forced GC, every ${STEP.toLocaleString('en')} requests after ${STEP.toLocaleString('en')} of warm-up (${CONNECTIONS} connections):\n`);
    console.log('| requests | RSS (MB) | heap used (MB) |\n| ---: | ---: | ---: |');
    for (const sample of samples) console.log(`| ${sample.requests.toLocaleString('en')} | ${sample.rss.toFixed(1)} | ${sample.heap.toFixed(1)} |`);
    const first = samples[0];
    const last = samples.at(-1);
    const per10k = (field) => ((last[field] - first[field]) / (TOTAL / STEP)).toFixed(2);
    console.log(`\ngrowth per 10,000 requests: RSS ${per10k('rss')} MB, heap ${per10k('heap')} MB`);
  } finally {
    await app.close();
    simulator.child.kill('SIGTERM');
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
