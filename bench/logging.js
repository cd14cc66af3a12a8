// What the request log costs: the same gateway build twice in front of one simulator, one with
// LOG_LEVEL=info (a JSON line per request, to a pipe this process drains) and one with
// LOG_LEVEL=silent as the baseline, in one run with alternating rounds.
//
//   npm run bench:logging     (builds first)
'use strict';
const { mkdtempSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { startSimulator, startGateway, startSilentGateway, createTenantKey, load, summary, measure, report } = require('./support');

const NO_LIMITS = { requestsPerMinute: null, tokensPerMinute: null, requestsPerDay: null, tokensPerMonth: null, costPerMonthUsd: null, concurrentRequests: null };

async function main() {
  const simulator = await startSimulator();
  const folder = mkdtempSync(join(tmpdir(), 'tollgate-bench-'));
  const silent = await startSilentGateway(simulator.url, { DATABASE_URL: `sqlite:${join(folder, 'silent.sqlite')}` });
  const logging = await startGateway(simulator.url, { DATABASE_URL: `sqlite:${join(folder, 'logging.sqlite')}`, LOG_LEVEL: 'info' });
  try {
    const silentKey = await createTenantKey(silent.url, 'bench', NO_LIMITS);
    const loggingKey = await createTenantKey(logging.url, 'bench', NO_LIMITS);
    const rows = await measure([
      { label: 'gateway, LOG_LEVEL=silent (baseline)', run: async () => summary(await load(`${silent.url}/v1/chat/completions`, silentKey)) },
      { label: 'gateway, LOG_LEVEL=info', run: async () => summary(await load(`${logging.url}/v1/chat/completions`, loggingKey)) },
    ]);
    report(rows, rows[0]);
  } finally {
    for (const { child } of [silent, logging, simulator]) child.kill('SIGTERM');
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
