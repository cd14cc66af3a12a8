// What the request log costs: the same gateway build twice in front of the fake upstream, one with
// LOG_LEVEL=info (a JSON line per request, to a pipe this process drains) and one with
// LOG_LEVEL=silent as the baseline (no request hook at all), in one run with alternating rounds.
// The gateway's CPU per request, less the baseline's, is what logging costs a request.
//
//   npm run bench:logging     (builds first)
'use strict';
const { spawn } = require('node:child_process');
const { mkdtempSync, rmSync } = require('node:fs');
const net = require('node:net');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { ADMIN_TOKEN, METRICS_TOKEN, startProcess, stopProcess, cpuSeconds, createTenantKey, load, measure, markdownTable } = require('./support');

const NO_LIMITS = { requestsPerMinute: null, tokensPerMinute: null, requestsPerDay: null, tokensPerMonth: null, costPerMonthUsd: null, concurrentRequests: null };

/** A port nothing listens on now. */
function freePort() {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

const gatewayEnv = (upstreamUrl, database) => ({ NODE_ENV: 'production', OPENAI_BASE_URL: `${upstreamUrl}/v1`, OPENAI_API_KEY: 'sk-bench-upstream', OPENAI_STATUS_URL: `${upstreamUrl}/status.json`, ADMIN_TOKEN, METRICS_TOKEN, DATABASE_URL: `sqlite:${database}` });

/** A gateway that logs nothing never prints its URL: it gets a port, and is ready when it says so. */
async function startSilentGateway(upstreamUrl, database) {
  const port = await freePort();
  const child = spawn(process.execPath, ['dist/main.js'], { cwd: join(__dirname, '..'), env: { ...process.env, ...gatewayEnv(upstreamUrl, database), PORT: String(port), LOG_LEVEL: 'silent' }, stdio: ['ignore', 'ignore', 'inherit'] });
  const url = `http://127.0.0.1:${port}`;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`dist/main.js exited (${child.exitCode}) before listening`);
    if (await fetch(`${url}/health/ready`).then((response) => response.ok, () => false)) return { child, url };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function main() {
  const upstream = await startProcess('bench/upstream.js');
  const folder = mkdtempSync(join(tmpdir(), 'tollgate-bench-'));
  // Stopped however the run ends, a gateway that fails to start included.
  const started = [upstream];
  try {
    const silent = await startSilentGateway(upstream.url, join(folder, 'silent.sqlite'));
    started.push(silent);
    const logging = await startProcess('dist/main.js', { ...gatewayEnv(upstream.url, join(folder, 'logging.sqlite')), PORT: '0', LOG_LEVEL: 'info' });
    started.push(logging);
    const silentKey = await createTenantKey(silent.url, 'bench', NO_LIMITS);
    const loggingKey = await createTenantKey(logging.url, 'bench', NO_LIMITS);
    const throughput = async ({ child, url }, key) => {
      const cpuBefore = cpuSeconds(child.pid);
      const { requests, latency } = await load(url, [key]);
      const cpuUsPerRequest = ((cpuSeconds(child.pid) - cpuBefore) * 1e6) / requests.total;
      return { rps: requests.average, p50: latency.p50, p99: latency.p99, cpuUsPerRequest };
    };
    const rows = await measure([
      { label: 'gateway, LOG_LEVEL=silent (baseline)', run: () => throughput(silent, silentKey) },
      { label: 'gateway, LOG_LEVEL=info', run: () => throughput(logging, loggingKey) },
    ]);
    console.log(markdownTable(rows, [
      ['target', (row) => row.label],
      ['requests/s', (row) => Math.round(row.rps)],
      ['× baseline', (row) => (row.rps / rows[0].rps).toFixed(2)],
      ['p50 ms', (row) => row.p50],
      ['p99 ms', (row) => row.p99],
      ['CPU µs/req', (row) => Math.round(row.cpuUsPerRequest)],
      ['− baseline', (row) => Math.round(row.cpuUsPerRequest - rows[0].cpuUsPerRequest)],
    ]));
  } finally {
    for (const { child } of started.reverse()) await stopProcess(child);
    rmSync(folder, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
