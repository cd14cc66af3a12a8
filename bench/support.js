// What the benchmarks share: child processes that print their URL, autocannon runs, medians, and
// a tenant created through the admin API.
'use strict';
const autocannon = require('autocannon');
const { spawn } = require('node:child_process');
const net = require('node:net');
const path = require('node:path');

const root = path.join(__dirname, '..');
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const ADMIN_TOKEN = 'bench-admin-token-0123456789';
const CHAT_BODY = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Say hello.' }] });

/** Starts `node script` with env; resolves once it prints an http:// URL. */
function startProcess(script, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const onData = (data) => {
      output += data;
      const match = /(http:\/\/[\d.:]+)/.exec(output);
      if (!match) return;
      // From here on its output (a log line per request) is drained, not kept and searched.
      child.stdout.off('data', onData);
      child.stderr.off('data', onData);
      child.stdout.resume();
      child.stderr.resume();
      resolve({ child, url: match[1] });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => reject(new Error(`${script} exited (${code}) before listening:\n${output}`)));
  });
}

function startSimulator() {
  return startProcess('libs/simulator/dist/main.js', { SIMULATOR_PORT: '0' });
}

/** A port nothing listens on now. */
function freePort() {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** A gateway that logs nothing (LOG_LEVEL=silent) never prints its URL: it gets a port, and is ready when it says so. */
async function startSilentGateway(simulatorUrl, env = {}) {
  const port = await freePort();
  const child = spawn(process.execPath, ['dist/main.js'], {
    cwd: root,
    env: { ...process.env, NODE_ENV: 'production', PORT: String(port), OPENAI_BASE_URL: `${simulatorUrl}/v1`, OPENAI_API_KEY: 'sk-bench-upstream', ADMIN_TOKEN, LOG_LEVEL: 'silent', ...env },
    stdio: 'ignore',
  });
  const url = `http://127.0.0.1:${port}`;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`dist/main.js exited (${child.exitCode}) before listening`);
    if (await fetch(`${url}/health/ready`).then((response) => response.ok, () => false)) return { child, url };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The built gateway in production mode in front of the simulator. */
function startGateway(simulatorUrl, env = {}) {
  return startProcess('dist/main.js', {
    NODE_ENV: 'production',
    PORT: '0',
    OPENAI_BASE_URL: `${simulatorUrl}/v1`,
    OPENAI_API_KEY: 'sk-bench-upstream',
    ADMIN_TOKEN,
    ...env,
  });
}

/** A tenant with the given limit overrides, and a key of it, through the admin API. */
async function createTenantKey(gatewayUrl, id, limits) {
  const admin = (route, body, method = 'POST') =>
    fetch(`${gatewayUrl}/admin/${route}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    }).then(async (response) => {
      if (!response.ok) throw new Error(`${method} /admin/${route}: ${response.status} ${await response.text()}`);
      return response.json();
    });
  await admin('tenants', { id, name: id });
  await admin(`tenants/${id}/quota`, limits, 'PUT');
  return (await admin(`tenants/${id}/keys`, {})).key;
}

function load(url, key) {
  return autocannon({
    url,
    method: 'POST',
    connections: CONNECTIONS,
    duration: SECONDS,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: CHAT_BODY,
  });
}

function summary(result) {
  const failed = result.non2xx + result.errors + result.timeouts;
  if (failed > 0) throw new Error(`${failed} requests failed during the benchmark`);
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99 };
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** Runs every target once per round, alternating, after one warm-up run each; returns the medians. */
async function measure(targets) {
  for (const target of targets) await target.run();
  const runs = new Map(targets.map((target) => [target, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const target of targets) runs.get(target).push(await target.run());
  }
  return targets.map((target) => {
    const results = runs.get(target);
    const of = (key) => median(results.map((result) => result[key]));
    return { target: target.label, 'requests/s': Math.round(of('rps')), 'p50 ms': of('p50'), 'p99 ms': of('p99'), rps: of('rps'), p50: of('p50'), p99: of('p99') };
  });
}

function report(rows, baseline) {
  console.log(`\n${ROUNDS} rounds of ${SECONDS} s, ${CONNECTIONS} connections, median of rounds`);
  console.table(rows.map(({ rps, p50, p99, ...shown }) => shown));
  for (const row of rows.filter((row) => row !== baseline)) {
    console.log(`${row.target}: throughput ratio ${(row.rps / baseline.rps).toFixed(2)}, p50 ratio ${(row.p50 / Math.max(baseline.p50, 1)).toFixed(2)}, p99 ratio ${(row.p99 / Math.max(baseline.p99, 1)).toFixed(2)} (against ${baseline.target})`);
  }
}

module.exports = { SECONDS, CONNECTIONS, CHAT_BODY, startSimulator, startGateway, startSilentGateway, createTenantKey, load, summary, measure, report };
