// The benchmark, in one run: the bare undici proxy (baseline 1), the NestJS + Fastify floor
// (baseline 2) and the gateway on SQLite and on PostgreSQL + Redis, each with 1 tenant and with
// 50, and on SQLite with eight upstream keys instead of one, all in front of one fake upstream. Rounds alternate the targets and every figure is the
// median over the rounds, so that noise on this shared machine falls on all of them alike.
//
//   npm run bench                  (builds first)
//   BENCH_SECONDS=5 BENCH_RATE=300 BENCH_ROUNDS=3 BENCH_STREAMS=200 BENCH_PROFILE=sqlite|postgres npm run bench
'use strict';
const { randomBytes } = require('node:crypto');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { SECONDS, CONNECTIONS, ROUNDS, RATE, STREAMS, startProcess, stopProcess, askProbe, cpuSeconds, load, pacedLoad, firstChunkTimes, percentile, measure, markdownTable } = require('./support');
const { startTollgate } = require('./tollgate');
const { summariseProfile } = require('./profile');

const FLOOR_TOKEN = 'bench-floor-token';
const WARM_UP_SECONDS = 2;

/**
 * One round of a target: the most it serves at CONNECTIONS connections (and the CPU it spent on
 * them), then RATE requests a second with the probe watching, then STREAMS streams on one connection.
 */
async function measureTarget({ child, url, keys }) {
  const cpuBefore = cpuSeconds(child.pid);
  const max = await load(url, keys);
  const cpu = cpuSeconds(child.pid) - cpuBefore;
  await askProbe(child, { probe: 'start' });
  const steady = await pacedLoad(url, keys, RATE);
  const window = await askProbe(child, { probe: 'stop' });
  const firstChunks = await firstChunkTimes(url, keys[0], STREAMS);
  return {
    rps: max.requests.average,
    cpuMsPerRequest: (cpu * 1000) / max.requests.total,
    p99AtRate: steady.p99,
    servedAtRate: steady.servedPerSecond,
    delayP99: window.delayP99Ms,
    heapKbPerRequest: window.allocatedBytes / 1024 / steady.served,
    firstChunkP50: percentile(firstChunks, 0.5),
    firstChunkP99: percentile(firstChunks, 0.99),
  };
}

async function warmUp({ url, keys }) {
  await load(url, keys, { seconds: WARM_UP_SECONDS });
  await firstChunkTimes(url, keys[0], 20);
}

const fixed = (digits) => (value) => value.toFixed(digits);
const signed = (digits) => (value) => `${value >= 0 ? '+' : '−'}${Math.abs(value).toFixed(digits)}`;

function printResults(rows) {
  const [bare, floor] = rows;
  const sustained = (row) => (row.servedAtRate < 0.95 * RATE ? ` (served ${Math.round(row.servedAtRate)}/s)` : '');
  const columns = [
    ['target', (row) => row.label],
    ['max req/s', (row) => Math.round(row.rps)],
    ['× bare proxy', (row) => fixed(3)(row.rps / bare.rps)],
    ['CPU ms/req', (row) => fixed(3)(row.cpuMsPerRequest)],
    [`p99 ms @ ${RATE}/s`, (row) => `${fixed(1)(row.p99AtRate)}${sustained(row)}`],
    ['p99 − floor', (row) => signed(1)(row.p99AtRate - floor.p99AtRate)],
    ['loop delay p99 ms', (row) => fixed(1)(row.delayP99)],
    ['heap KB/req', (row) => fixed(1)(row.heapKbPerRequest)],
    ['1st chunk p50 ms', (row) => fixed(2)(row.firstChunkP50)],
    ['1st chunk p99 ms', (row) => fixed(2)(row.firstChunkP99)],
    ['p50 − floor', (row) => signed(2)(row.firstChunkP50 - floor.firstChunkP50)],
  ];
  console.log(`\n${ROUNDS} rounds, median of rounds; max: ${CONNECTIONS} connections for ${SECONDS} s; p99, loop delay and heap: ${RATE} req/s for ${SECONDS} s; 1st chunk: ${STREAMS} streams one at a time.\n`);
  console.log(markdownTable(rows, columns));
}

/** BENCH_PROFILE=sqlite (or 1) or postgres: V8's CPU profile of that gateway (1 tenant) at full load, by component. */
async function profile(target) {
  const file = join(tmpdir(), `tollgate-bench-${process.pid}.cpuprofile`);
  await askProbe(target.child, { probe: 'start', profile: true });
  const result = await load(target.url, target.keys);
  await askProbe(target.child, { probe: 'stop', profileFile: file });
  const rows = summariseProfile(file);
  console.log(`\nCPU profile of ${target.label} under full load (${CONNECTIONS} connections, ${SECONDS} s, ${result.requests.total} requests): where the samples fall, by component.`);
  console.log('Self: the sample\'s own frame (native and V8 builtin frames count for the JavaScript that called them); total: the component is anywhere on the stack.\n');
  console.log(markdownTable(rows, [
    ['component', (row) => row.component],
    ['self ms', (row) => Math.round(row.selfMs)],
    ['self %', (row) => fixed(1)(row.selfPercent)],
    ['total %', (row) => fixed(1)(row.totalPercent)],
  ]));
  console.log(`\n(profile kept at ${file})`);
}

async function main() {
  const runId = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const started = Date.now();
  const processes = [];
  const gateways = [];
  try {
    const upstream = await startProcess('bench/upstream.js');
    processes.push(upstream.child);
    const bare = await startProcess('bench/bare-proxy.js', { UPSTREAM_URL: upstream.url }, { probe: true });
    processes.push(bare.child);
    const floor = await startProcess('bench/floor.js', { UPSTREAM_URL: upstream.url, FLOOR_TOKEN }, { probe: true });
    processes.push(floor.child);
    const sqlite = await startTollgate({ upstreamUrl: upstream.url, store: 'sqlite', runId, tenants: 50 });
    gateways.push(sqlite);
    const postgres = await startTollgate({ upstreamUrl: upstream.url, store: 'postgres', runId, tenants: 50 });
    gateways.push(postgres);
    // Key selection's cost: the same SQLite gateway with eight keys of its one upstream instead of one.
    const eightKeys = await startTollgate({ upstreamUrl: upstream.url, store: 'sqlite', runId: `${runId}k`, tenants: 1, upstreamKeys: 8 });
    gateways.push(eightKeys);

    const targets = [
      { label: 'bare undici proxy (baseline 1)', ...bare, keys: [FLOOR_TOKEN] },
      { label: 'NestJS + Fastify + undici floor (baseline 2)', ...floor, keys: [FLOOR_TOKEN] },
      { label: 'Tollgate, SQLite, 1 tenant', ...sqlite, keys: sqlite.keys.slice(0, 1) },
      { label: 'Tollgate, SQLite, 50 tenants', ...sqlite },
      { label: 'Tollgate, PostgreSQL + Redis, 1 tenant', ...postgres, keys: postgres.keys.slice(0, 1) },
      { label: 'Tollgate, PostgreSQL + Redis, 50 tenants', ...postgres },
      { label: 'Tollgate, SQLite, 1 tenant, 8 upstream keys', ...eightKeys },
    ];
    const rows = await measure(
      targets.map((target) => ({ label: target.label, warmUp: () => warmUp(target), run: () => measureTarget(target) })),
      { onRound: (round) => console.error(`round ${round} of ${ROUNDS} done (${Math.round((Date.now() - started) / 1000)} s)`) },
    );
    printResults(rows);
    const profiled = { 1: targets[2], sqlite: targets[2], postgres: targets[4] }[process.env.BENCH_PROFILE ?? ''];
    if (profiled) await profile(profiled);
    console.log(`\n(${Math.round((Date.now() - started) / 1000)} s in all)`);
  } finally {
    for (const gateway of gateways) await gateway.stop();
    for (const child of processes) await stopProcess(child);
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
