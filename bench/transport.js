// What one upstream call costs the gateway's process in CPU, transport alone: (a) the openai SDK
// over undici's fetch, with no retries (the library's transport before issue 12), (b) UndiciUpstreamClient
// (undici's Pool.request and its own parsing), (c) bare undici Pool.request reading the body and
// parsing nothing — for a chat completion and for a stream of SSE chunks, against a fast node:http
// upstream in a child process (so that its CPU is not counted). Targets alternate within each round
// so that machine noise hits them alike; the figures are medians over the rounds.
//
//   npm run bench:transport      (builds first)
//   BENCH_CALLS=5000 BENCH_CONCURRENCY=8 BENCH_ROUNDS=5 node bench/transport.js
'use strict';
const { createServer } = require('node:http');
const { Agent, Pool, fetch: undiciFetch } = require('undici');
const { ROUNDS, startProcess, stopProcess, measure, markdownTable } = require('./support');

const CALLS = Number(process.env.BENCH_CALLS ?? 3000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 8);
const STREAM_CHUNKS = 8;
const API_KEY = 'sk-bench-0123456789';

const COMPLETION = JSON.stringify({
  id: 'chatcmpl-bench',
  object: 'chat.completion',
  created: 1_700_000_000,
  model: 'gpt-4o-mini',
  choices: [{ index: 0, message: { role: 'assistant', content: 'Hello! How can I help you today?', refusal: null }, finish_reason: 'stop', logprobs: null }],
  usage: { prompt_tokens: 11, completion_tokens: 9, total_tokens: 20 },
});

const chunk = (delta, extra = {}) =>
  JSON.stringify({ id: 'chatcmpl-bench', object: 'chat.completion.chunk', created: 1_700_000_000, model: 'gpt-4o-mini', choices: delta ? [{ index: 0, delta, finish_reason: null }] : [], ...extra });
const SSE =
  [
    chunk({ role: 'assistant', content: '' }),
    ...Array.from({ length: STREAM_CHUNKS }, (_, i) => chunk({ content: ` word${i}` })),
    chunk(null, { usage: { prompt_tokens: 11, completion_tokens: STREAM_CHUNKS, total_tokens: 11 + STREAM_CHUNKS } }),
    '[DONE]',
  ]
    .map((data) => `data: ${data}\n\n`)
    .join('');

/** The upstream: answers every chat completion at once, the whole SSE body in one write. */
function serveUpstream() {
  const server = createServer((request, response) => {
    let body = '';
    request.setEncoding('utf8');
    request.on('data', (text) => (body += text));
    request.on('end', () => {
      const streamed = body.includes('"stream":true');
      respond(response, streamed ? 'text/event-stream' : 'application/json', streamed ? SSE : COMPLETION);
    });
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => console.log(`upstream listening on http://127.0.0.1:${server.address().port}`));
}

function respond(response, contentType, body) {
  response.writeHead(200, { 'content-type': contentType, 'content-length': Buffer.byteLength(body), 'x-request-id': 'req_bench' });
  response.end(body);
}

const CHAT = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Say hello.' }] };

/** (a): the official SDK as the library used it before, over an undici agent, each call with its own key. */
async function sdkClient(baseURL) {
  const { default: OpenAI } = await import('openai');
  const dispatcher = new Agent({ headersTimeout: 0, bodyTimeout: 0 });
  const sdk = new OpenAI({ apiKey: 'set-per-request', baseURL, maxRetries: 0, fetch: undiciFetch, fetchOptions: { dispatcher } });
  const options = ({ signal, apiKey }) => ({ signal, headers: { Authorization: `Bearer ${apiKey}` } });
  return {
    createChatCompletion: async (body, call) => ({ data: await sdk.chat.completions.create(body, options(call)) }),
    streamChatCompletion: async (body, call) => ({ data: await sdk.chat.completions.create(body, options(call)) }),
    close: () => dispatcher.destroy(),
  };
}

/** (b): the library's UpstreamClient, as the module builds it. */
function libraryClient(baseURL) {
  const { resolveAiOptions } = require('../libs/ai/dist/ai-module-options');
  const { UndiciUpstreamClient } = require('../libs/ai/dist/upstream/undici-upstream.client');
  return new UndiciUpstreamClient(resolveAiOptions({ upstream: { apiKey: 'unused', baseURL } }));
}

/** (a) and (b): calls through an UpstreamClient-shaped transport. */
function clientTarget(label, client, streamed) {
  const call = () => ({ signal: new AbortController().signal, apiKey: API_KEY });
  const once = streamed
    ? async () => {
        const { data } = await client.streamChatCompletion({ ...CHAT, stream: true }, call());
        let chunks = 0;
        for await (const _chunk of data) chunks++;
        if (chunks !== STREAM_CHUNKS + 2) throw new Error(`${label}: ${chunks} chunks`);
      }
    : async () => {
        const { data } = await client.createChatCompletion(CHAT, call());
        if (data.choices.length !== 1) throw new Error(`${label}: no choice`);
      };
  return { label, once, close: () => client.close() };
}

/** (c): undici's Pool.request, reading the body and parsing nothing but the non-streamed JSON. */
function barePoolTarget(baseURL, streamed) {
  const pool = new Pool(baseURL, { headersTimeout: 0, bodyTimeout: 0 });
  const headers = { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' };
  const body = JSON.stringify(streamed ? { ...CHAT, stream: true } : CHAT);
  const once = async () => {
    const response = await pool.request({ method: 'POST', path: '/v1/chat/completions', headers, body });
    if (streamed) for await (const _bytes of response.body);
    else JSON.parse(await response.body.text());
  };
  return { label: 'bare undici Pool.request', once, close: () => pool.destroy() };
}

/** CALLS calls, CONCURRENCY in flight: CPU µs of this process per call, and calls a second. */
async function run(target) {
  let started = 0;
  const worker = async () => {
    while (started++ < CALLS) await target.once();
  };
  const cpu = process.cpuUsage();
  const wall = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const seconds = (performance.now() - wall) / 1000;
  const used = process.cpuUsage(cpu);
  return { cpuUs: (used.user + used.system) / CALLS, callsPerSecond: CALLS / seconds };
}

async function main() {
  const upstream = await startProcess(__filename, { BENCH_TRANSPORT_ROLE: 'upstream' });
  const tables = [];
  try {
    for (const streamed of [false, true]) {
      const targets = [
        clientTarget('openai SDK over undici fetch (before)', await sdkClient(`${upstream.url}/v1`), streamed),
        clientTarget('UndiciUpstreamClient (now)', libraryClient(`${upstream.url}/v1`), streamed),
        barePoolTarget(upstream.url, streamed),
      ].map((target) => ({ ...target, run: () => run(target) }));
      try {
        const rows = await measure(targets);
        tables.push(report(streamed ? `stream (${STREAM_CHUNKS + 2} chunks)` : 'non-stream', rows));
      } finally {
        await Promise.all(targets.map((target) => target.close()));
      }
    }
  } finally {
    await stopProcess(upstream.child);
  }
  console.log(`\n${CALLS} calls per run, ${CONCURRENCY} in flight, median of ${ROUNDS} rounds after a warm-up; node ${process.version}\n`);
  console.log(tables.join('\n\n'));
}

function report(mode, rows) {
  const [sdk, , bare] = rows;
  const ratio = (value) => `${value.toFixed(2)}×`;
  return `### ${mode}\n\n${markdownTable(rows, [
    ['transport', (row) => row.label],
    ['CPU µs/call', (row) => row.cpuUs.toFixed(0)],
    ['CPU vs SDK', (row) => ratio(row.cpuUs / sdk.cpuUs)],
    ['CPU vs bare', (row) => ratio(row.cpuUs / bare.cpuUs)],
    ['calls/s', (row) => row.callsPerSecond.toFixed(0)],
    ['calls/s vs SDK', (row) => ratio(row.callsPerSecond / sdk.callsPerSecond)],
  ])}`;
}

if (process.env.BENCH_TRANSPORT_ROLE === 'upstream') serveUpstream();
else
  main().catch((error) => {
    console.error(error);
    process.exit(1);
  });
