// How long counting a ~100k-token conversation holds the event loop: TokenCounter.countPrompt
// (gpt-tokenizer, o200k_base) over several runs, and the event-loop delay seen while it runs,
// against two baselines in the same run: JSON.stringify of the same conversation (work every
// request does anyway) and counting a ~1k-token conversation. Targets alternate within each
// round so that machine noise hits them alike. It prints; nothing asserts a time.
//
//   npm run build && node bench/tokens.js
//   BENCH_RUNS=50 BENCH_MESSAGES=500 node bench/tokens.js
'use strict';
const { monitorEventLoopDelay, performance } = require('node:perf_hooks');
const { setTimeout } = require('node:timers/promises');
const { TokenCounter } = require('../libs/ai/dist/context/token-counter');

const RUNS = Number(process.env.BENCH_RUNS ?? 30);
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 500);
const WARM_UP = 3;

const VOCABULARY = (
  'the a of to and in is it you that he was for on are with as I his they be at one have this from or had by hot ' +
  'word but some what there we can out other were all your when up use how said an each she which do their time if ' +
  'will way about many then them would write like so these her long make thing see him two has look more day could go ' +
  'come did my sound no most number who over know water than call first people may down side been now find any new ' +
  'work part take get place made live where after back little only round man year came show every good me give our ' +
  'under name very through just form much great think say help low line before turn cause same mean differ move right ' +
  'boy old too does tell sentence set three want air well also play small end put home read hand port large spell add ' +
  'even land here must big high such follow act why ask men change went light kind off need house picture try us again ' +
  'animal point mother world near build self earth father Kubernetes PostgreSQL 2024-06-01 3.14159 café naïve — “quoted” ' +
  'función données 東京 데이터 {"id":42} snake_case camelCase https://example.com/a?b=c'
).split(' ');

/** A deterministic PRNG (mulberry32), so every run counts the same text. */
function random(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A system message, then user and assistant turns of ~185 words, one assistant turn in ten calling a tool. */
function conversation(messages, seed = 1) {
  const next = random(seed);
  const text = (words) => Array.from({ length: words }, () => VOCABULARY[Math.floor(next() * VOCABULARY.length)]).join(' ');
  const result = [{ role: 'system', content: 'You are a careful assistant. Answer in the language of the question.' }];
  for (let i = 0; result.length < messages; i++) {
    if (i % 20 === 19) {
      const id = `call_${i}`;
      result.push({ role: 'assistant', content: null, tool_calls: [{ id, type: 'function', function: { name: 'search', arguments: JSON.stringify({ query: text(8) }) } }] });
      result.push({ role: 'tool', tool_call_id: id, content: text(180) });
      continue;
    }
    result.push({ role: i % 2 ? 'assistant' : 'user', content: text(120 + Math.floor(next() * 130)) });
  }
  return result;
}

const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
const ms = (value) => value.toFixed(2);

async function main() {
  const counter = new TokenCounter();
  const large = { messages: conversation(MESSAGES) };
  const small = { messages: conversation(Math.max(2, Math.round(MESSAGES / 100)), 2) };
  const targets = [
    { label: `countPrompt, ${large.messages.length} messages`, run: () => counter.countPrompt(large) },
    { label: 'JSON.stringify, same messages (baseline)', run: () => JSON.stringify(large).length },
    { label: `countPrompt, ${small.messages.length} messages (baseline)`, run: () => counter.countPrompt(small) },
  ];
  const largeTokens = counter.countPrompt(large);
  console.log(`large conversation: ${large.messages.length} messages, ${largeTokens} tokens (o200k_base), ${JSON.stringify(large).length} JSON characters`);
  console.log(`small conversation: ${small.messages.length} messages, ${counter.countPrompt(small)} tokens`);

  for (let i = 0; i < WARM_UP; i++) for (const target of targets) target.run();

  // A fresh histogram per run (a re-enabled one counts the time it was off as delay): its 1 ms
  // timer fires as late as the synchronous work held the loop, so its max is the stall a
  // concurrent request would have seen.
  const durations = new Map(targets.map((target) => [target, []]));
  const stalls = new Map(targets.map((target) => [target, []]));
  for (let round = 0; round < RUNS; round++) {
    for (const target of targets) {
      const histogram = monitorEventLoopDelay({ resolution: 1 });
      histogram.enable();
      await setTimeout(5);
      const started = performance.now();
      target.run();
      durations.get(target).push(performance.now() - started);
      await setTimeout(5);
      histogram.disable();
      stalls.get(target).push(histogram.max / 1e6);
    }
  }

  const rows = targets.map((target) => {
    const sorted = [...durations.get(target)].sort((a, b) => a - b);
    const stalled = [...stalls.get(target)].sort((a, b) => a - b);
    return {
      target: target.label,
      'median ms': ms(quantile(sorted, 0.5)),
      'p99 ms': ms(quantile(sorted, 0.99)),
      'max ms': ms(sorted.at(-1)),
      'loop stall median ms': ms(quantile(stalled, 0.5)),
      'loop stall max ms': ms(stalled.at(-1)),
      median: quantile(sorted, 0.5),
    };
  });
  console.log(`\n${RUNS} runs each after ${WARM_UP} warm-up runs, alternating; loop stall: the longest event-loop delay in each run (1 ms sampling)`);
  console.table(rows.map(({ median, ...shown }) => shown));
  const [count, stringify, smallCount] = rows;
  console.log(`counting ${largeTokens} tokens: ${(largeTokens / count.median / 1000).toFixed(2)} M tokens/s`);
  console.log(`ratio to JSON.stringify of the same conversation: ${(count.median / stringify.median).toFixed(1)}x`);
  console.log(`ratio to counting the ${small.messages.length}-message conversation: ${(count.median / smallCount.median).toFixed(1)}x`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
