// What choosing a key costs on its own: UpstreamPool.choose for a pool of 1 key and of 8, a million times each, with
// the CPU time per choice (the gateway's own figures are in `npm run bench`: its last row has 8 keys).
//
//   npm run bench:keys        (builds first)
'use strict';
const { resolveAiOptions } = require('../libs/ai/dist/ai-module-options');
const { UpstreamPool } = require('../libs/ai/dist/upstream/upstream-pool');
const { BreakerRegistry } = require('../libs/ai/dist/upstream/breaker-registry');
const { UpstreamEvents } = require('../libs/ai/dist/upstream/upstream-events');
const { SystemClock } = require('../libs/ai/dist/common/clock');

const CHOICES = 1_000_000;

function poolOf(keys) {
  const options = resolveAiOptions({
    upstreams: [{ name: 'bench', baseURL: 'http://127.0.0.1:9/v1', keys: Array.from({ length: keys }, (_, i) => ({ apiKey: `sk-bench-${i}` })) }],
  });
  const clock = new SystemClock();
  return { pool: new UpstreamPool(options.upstreams, options.secrets, options.breaker, clock, new UpstreamEvents()), breakers: new BreakerRegistry(options.upstreams, options.breaker, clock) };
}

function nsPerChoice(keys) {
  const { pool, breakers } = poolOf(keys);
  for (let i = 0; i < 10_000; i++) pool.choose('gpt-4o-mini', breakers);
  const before = process.cpuUsage();
  for (let i = 0; i < CHOICES; i++) pool.choose('gpt-4o-mini', breakers);
  const { user, system } = process.cpuUsage(before);
  breakers.shutdown();
  return ((user + system) * 1000) / CHOICES;
}

const rows = [1, 8, 1, 8, 1, 8].map((keys) => ({ keys, ns: nsPerChoice(keys) }));
for (const keys of [1, 8]) {
  const each = rows.filter((row) => row.keys === keys).map((row) => row.ns).sort((a, b) => a - b);
  console.log(`${keys} key(s): ${Math.round(each[1])} ns of CPU per choice (median of 3 runs of ${CHOICES.toLocaleString('en')})`);
}
