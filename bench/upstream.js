// The fake OpenAI upstream every target forwards to: a fixed chat completion, or for `stream: true`
// a short SSE stream ending in a usage chunk. It does as little as it can so that the targets,
// not the upstream, are what the benchmark measures.
//
//   node bench/upstream.js      (prints its URL; UPSTREAM_PORT, default 0)
'use strict';
const http = require('node:http');

// The first event is written at once, the rest STREAM_GAP_MS later: a target that buffers the
// stream instead of relaying each chunk shows it as a longer time to first chunk.
const STREAM_GAP_MS = 5;
const USAGE = { prompt_tokens: 11, completion_tokens: 9, total_tokens: 20 };
const created = Math.floor(Date.now() / 1000);

const COMPLETION = JSON.stringify({
  id: 'chatcmpl-bench',
  object: 'chat.completion',
  created,
  model: 'gpt-4o-mini',
  choices: [{ index: 0, message: { role: 'assistant', content: 'Hello! How can I help you today?', refusal: null }, logprobs: null, finish_reason: 'stop' }],
  usage: USAGE,
});

const event = (choices, usage = null) => `data: ${JSON.stringify({ id: 'chatcmpl-bench', object: 'chat.completion.chunk', created, model: 'gpt-4o-mini', choices, usage })}\n\n`;
const FIRST_EVENT = event([{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }]);
const REST_EVENTS =
  event([{ index: 0, delta: { content: 'Hello! How can I help you today?' }, logprobs: null, finish_reason: null }]) +
  event([{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }]) +
  event([], USAGE) +
  'data: [DONE]\n\n';

const MODELS = JSON.stringify({ object: 'list', data: [{ id: 'gpt-4o-mini', object: 'model', created, owned_by: 'openai' }] });
const STATUS = JSON.stringify({ status: { indicator: 'none', description: 'All Systems Operational' } });

function answer(request, response, body) {
  if (request.url === '/v1/models') return sendJson(response, MODELS);
  if (request.url === '/status.json') return sendJson(response, STATUS);
  // A substring test, not JSON.parse: the upstream's own parsing is not what is measured.
  if (!/"stream"\s*:\s*true/.test(body)) return sendJson(response, COMPLETION);
  response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  response.write(FIRST_EVENT);
  setTimeout(() => response.end(REST_EVENTS), STREAM_GAP_MS);
}

function sendJson(response, json) {
  response.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) });
  response.end(json);
}

const server = http.createServer((request, response) => {
  let body = '';
  request.setEncoding('utf8');
  request.on('data', (chunk) => (body += chunk));
  request.on('end', () => answer(request, response, body));
});
server.keepAliveTimeout = 120_000;
server.listen(Number(process.env.UPSTREAM_PORT ?? 0), '127.0.0.1', () => console.log(`fake upstream on http://127.0.0.1:${server.address().port}`));
