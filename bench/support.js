// What the benchmarks share: child processes that print their URL (optionally with the probe
// preloaded), autocannon runs, CPU time from /proc, time to a stream's first chunk, medians, and
// tenants created through the admin API.
'use strict';
const autocannon = require('autocannon');
const { spawn, execFileSync } = require('node:child_process');
const { readFileSync } = require('node:fs');
const path = require('node:path');
const { Client, Pool } = require('undici');

const root = path.join(__dirname, '..');
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const RATE = Number(process.env.BENCH_RATE ?? 300);
const STREAMS = Number(process.env.BENCH_STREAMS ?? 200);
const ADMIN_TOKEN = 'bench-admin-token-0123456789';
const METRICS_TOKEN = 'bench-metrics-token-0123456789';
const CHAT_BODY = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Say hello.' }] });
const STREAM_BODY = JSON.stringify({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'Say hello.' }] });
const CLOCK_TICKS_PER_SECOND = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }));

/**
 * Starts `node script` with env; resolves once it prints an http:// URL. With `probe`, bench/probe.js
 * is preloaded and an IPC channel opened to talk to it.
 */
function startProcess(script, env = {}, { probe = false } = {}) {
  const execArgv = probe ? ['-r', path.join(__dirname, 'probe.js')] : [];
  const stdio = probe ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...execArgv, script], { cwd: root, env: { ...process.env, ...env }, stdio });
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

/** Ends a child and waits for it, killing it if it has not gone in five seconds. */
function stopProcess(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => resolve(clearTimeout(kill)));
    child.kill('SIGTERM');
  });
}

/** Sends the probe in `child` a message and resolves with its answer. */
function askProbe(child, message) {
  const answer = { start: 'started', stop: 'stopped' }[message.probe];
  return new Promise((resolve) => {
    const onMessage = (reply) => {
      if (reply?.probe !== answer) return;
      child.off('message', onMessage);
      resolve(reply);
    };
    child.on('message', onMessage);
    child.send(message);
  });
}

/** CPU seconds (user + system) the process has used so far: fields 14 and 15 of /proc/<pid>/stat. */
function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces: count fields from after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
}

/**
 * CONNECTIONS connections posting chat completions as fast as they are answered, for SECONDS.
 * Each request takes the next of `keys` in turn, so that the load is spread evenly over the keys'
 * tenants and requests in flight at once belong to different tenants.
 */
async function load(url, keys, { seconds = SECONDS } = {}) {
  let next = 0;
  const result = await autocannon({
    url: `${url}/v1/chat/completions`,
    method: 'POST',
    connections: CONNECTIONS,
    duration: seconds,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${keys[0]}` },
    body: CHAT_BODY,
    requests: keys.length > 1 ? [{ setupRequest: (request) => ({ ...request, headers: { ...request.headers, authorization: `Bearer ${keys[next++ % keys.length]}` } }) }] : undefined,
  });
  const failed = result.non2xx + result.errors + result.timeouts;
  if (failed > 0) throw new Error(`${url}: ${failed} of ${result.requests.total} requests failed (status codes ${JSON.stringify(result.statusCodeStats)}, ${result.errors} errors, ${result.timeouts} timeouts)`);
  return result;
}

/**
 * `rate` chat completions a second for SECONDS, evenly spaced, over up to CONNECTIONS connections;
 * keys taken in turn as in `load`. Not autocannon's overallRate: that sends each second's quota in
 * a burst at the start of the second (lib/httpClient.js), so its p99 is the time to drain a burst.
 * A request's latency counts from when it was due, not sent: a target that falls behind is not
 * excused the wait it caused (no coordinated omission).
 */
async function pacedLoad(url, keys, rate, seconds = SECONDS) {
  const pool = new Pool(url, { connections: CONNECTIONS });
  const total = Math.round(rate * seconds);
  const latencies = [];
  const failures = [];
  const send = async (i, due) => {
    try {
      const { statusCode, body } = await pool.request({
        path: '/v1/chat/completions',
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${keys[i % keys.length]}` },
        body: CHAT_BODY,
      });
      await body.dump();
      if (statusCode === 200) latencies.push(performance.now() - due);
      else failures.push(statusCode);
    } catch (error) {
      failures.push(error.code ?? error.message);
    }
  };
  const started = performance.now();
  const inFlight = [];
  for (let sent = 0; sent < total; ) {
    // Timers fire late rather than early: send every request that has come due since the last tick.
    const dueNow = Math.min(total, Math.floor(((performance.now() - started) * rate) / 1000) + 1);
    for (; sent < dueNow; sent++) inFlight.push(send(sent, started + (sent * 1000) / rate));
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  await Promise.all(inFlight);
  const elapsedSeconds = (performance.now() - started) / 1000;
  await pool.close();
  if (failures.length > 0) throw new Error(`${url}: ${failures.length} of ${total} paced requests failed (${[...new Set(failures)].join(', ')})`);
  return { served: total, servedPerSecond: total / elapsedSeconds, p99: percentile(latencies, 0.99) };
}

/** `count` streamed completions one after another on one connection: ms from sending each to its body's first chunk. */
async function firstChunkTimes(url, key, count) {
  const client = new Client(url);
  const times = [];
  try {
    for (let i = 0; i < count; i++) {
      const sent = performance.now();
      const { statusCode, body } = await client.request({
        path: '/v1/chat/completions',
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        body: STREAM_BODY,
      });
      let first;
      for await (const _chunk of body) first ??= performance.now() - sent;
      if (statusCode !== 200) throw new Error(`${url}: a streamed completion answered ${statusCode}`);
      times.push(first);
    }
  } finally {
    await client.close();
  }
  return times;
}

/** The value below which `q` of the values lie (nearest rank). */
function percentile(values, q) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}

const median = (values) => percentile(values, 0.5);

/**
 * Runs every target once as a warm-up (`warmUp`), then ROUNDS rounds in which each target runs in
 * turn, so that machine noise falls on all of them alike; returns, per target, the median over the
 * rounds of every figure its `run` returned.
 */
async function measure(targets, { onRound = () => {} } = {}) {
  for (const target of targets) await (target.warmUp ?? target.run)();
  const runs = new Map(targets.map((target) => [target, []]));
  for (let round = 1; round <= ROUNDS; round++) {
    for (const target of targets) runs.get(target).push(await target.run());
    onRound(round);
  }
  return targets.map((target) => {
    const results = runs.get(target);
    const medians = Object.keys(results[0]).map((figure) => [figure, median(results.map((result) => result[figure]))]);
    return { label: target.label, ...Object.fromEntries(medians) };
  });
}

/** A markdown table: `columns` is a list of [heading, row => cell text]. */
function markdownTable(rows, columns) {
  const line = (cells) => `| ${cells.join(' | ')} |`;
  return [line(columns.map(([heading]) => heading)), line(columns.map((_, i) => (i === 0 ? '---' : '---:'))), ...rows.map((row) => line(columns.map(([, cell]) => cell(row))))].join('\n');
}

function startSimulator() {
  return startProcess('libs/simulator/dist/main.js', { SIMULATOR_PORT: '0' });
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

module.exports = {
  SECONDS, CONNECTIONS, ROUNDS, RATE, STREAMS, ADMIN_TOKEN, METRICS_TOKEN, CHAT_BODY,
  startProcess, stopProcess, askProbe, cpuSeconds, load, pacedLoad, firstChunkTimes, percentile, median, measure, markdownTable,
  startSimulator, createTenantKey,
};
