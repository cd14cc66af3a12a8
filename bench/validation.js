// The cost of validating one chat completion body: the class-validator pipe (plainToInstance, then
// validate) against the rules compiled from the same DTO (src/http/compiled-validator.ts), both
// through OpenAiValidationPipe.transform as a request goes. CPU time per validation, from
// process.cpuUsage(), and heap bytes allocated per validation, from the heap's growth plus what each
// garbage collection freed (v8.GCProfiler). Each body is parsed just before it is validated, as
// Fastify parses it, and what parsing alone costs (measured alike) is taken off. Targets alternate
// within each round so that machine noise hits them alike. It prints; nothing asserts a figure.
//
//   npm run build && node bench/validation.js
//   BENCH_ROUNDS=20 BENCH_BATCH=5000 node bench/validation.js
'use strict';
const v8 = require('node:v8');
const { ChatCompletionRequestDto } = require('../dist/chat/chat-completion-request.dto');
const { createValidationPipe, OpenAiValidationPipe } = require('../dist/http/validation.pipe');

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 10);
const BATCH = Number(process.env.BENCH_BATCH ?? 2000);
const METADATA = { type: 'body', metatype: ChatCompletionRequestDto, data: undefined };

const WEATHER_TOOL = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'The weather in a city.',
    parameters: { type: 'object', properties: { city: { type: 'string' }, unit: { type: 'string', enum: ['c', 'f'] } }, required: ['city'] },
  },
};

const BODIES = {
  // The one bench/run.js sends.
  minimal: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Say hello.' }] },
  // A few turns with a tool call, a tool and the usual parameters.
  typical: {
    model: 'gpt-4o-mini',
    messages: [
      { role: 'system', content: 'You are a terse assistant. Answer in the language of the question.' },
      { role: 'user', content: 'What is the weather in Paris, and should I take an umbrella?' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
      { role: 'tool', tool_call_id: 'call_1', content: '{"temperature": 18, "rain": 0.7}' },
      { role: 'user', content: [{ type: 'text', text: 'And in Lyon?' }] },
    ],
    tools: [WEATHER_TOOL],
    tool_choice: 'auto',
    temperature: 0.2,
    max_completion_tokens: 300,
    stream: false,
    user: 'user-1234',
  },
};

async function main() {
  const pipes = { 'class-validator': new OpenAiValidationPipe(), compiled: createValidationPipe() };
  for (const [name, body] of Object.entries(BODIES)) {
    const text = JSON.stringify(body);
    await checkAgreement(pipes, text);
    const targets = { parse: async () => JSON.parse(text) };
    for (const [pipe, validator] of Object.entries(pipes)) targets[pipe] = () => validator.transform(JSON.parse(text), METADATA);
    const figures = Object.fromEntries(Object.keys(targets).map((target) => [target, { cpuMicros: [], heapBytes: [] }]));
    for (let round = 0; round < ROUNDS; round++) {
      for (const [target, run] of Object.entries(targets)) {
        const { cpuMicros, heapBytes } = await measure(run);
        figures[target].cpuMicros.push(cpuMicros);
        figures[target].heapBytes.push(heapBytes);
      }
    }
    report(name, text, figures);
  }
}

async function checkAgreement(pipes, text) {
  const [before, after] = await Promise.all(Object.values(pipes).map((pipe) => pipe.transform(JSON.parse(text), METADATA)));
  if (JSON.stringify(before) !== JSON.stringify(after)) throw new Error(`The pipes disagree on ${text}`);
}

/** Per run, over one batch (the first round of each target warms it up as well). */
async function measure(run) {
  const profiler = new v8.GCProfiler();
  profiler.start();
  const heapBefore = v8.getHeapStatistics().used_heap_size;
  const cpuBefore = process.cpuUsage();
  for (let i = 0; i < BATCH; i++) await run();
  const cpu = process.cpuUsage(cpuBefore);
  const heapAfter = v8.getHeapStatistics().used_heap_size;
  const freed = profiler.stop().statistics.reduce((sum, gc) => sum + gc.beforeGC.heapStatistics.usedHeapSize - gc.afterGC.heapStatistics.usedHeapSize, 0);
  return { cpuMicros: (cpu.user + cpu.system) / BATCH, heapBytes: (heapAfter - heapBefore + freed) / BATCH };
}

function report(name, text, { parse, ...pipes }) {
  const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  const cost = ({ cpuMicros, heapBytes }) => ({ cpu: median(cpuMicros.slice(1)), heap: median(heapBytes.slice(1)) });
  const parsing = cost(parse);
  console.log(`${name} body (${text.length} JSON characters), median of ${ROUNDS - 1} rounds of ${BATCH} validations, parsing (${parsing.cpu.toFixed(2)} µs) taken off:`);
  const [before, after] = Object.entries(pipes).map(([pipe, figures]) => {
    const { cpu, heap } = cost(figures);
    const validation = { cpu: cpu - parsing.cpu, heap: heap - parsing.heap };
    console.log(`  ${pipe.padEnd(16)} ${validation.cpu.toFixed(2).padStart(8)} µs CPU  ${Math.round(validation.heap).toString().padStart(8)} heap bytes`);
    return validation;
  });
  console.log(`  ratio            ${(before.cpu / after.cpu).toFixed(1).padStart(7)}× CPU  ${(before.heap / after.heap).toFixed(1).padStart(7)}× heap bytes`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
