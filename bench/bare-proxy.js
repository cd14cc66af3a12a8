// Baseline 1: the least a proxy can do — node:http in, undici Pool.request out, status, headers and
// body relayed as they come. Every other target is measured against it.
//
//   UPSTREAM_URL=http://127.0.0.1:port node bench/bare-proxy.js      (prints its URL)
'use strict';
const http = require('node:http');
const { Pool } = require('undici');

// Headers about one connection, not the message (RFC 9110 §7.6.1), and the host, which undici sets.
const NOT_RELAYED = new Set(['connection', 'keep-alive', 'transfer-encoding', 'host']);
const relayed = (headers) => Object.fromEntries(Object.entries(headers).filter(([name]) => !NOT_RELAYED.has(name)));

const upstream = new Pool(process.env.UPSTREAM_URL);

const server = http.createServer(async (request, response) => {
  try {
    const { statusCode, headers, body } = await upstream.request({ path: request.url, method: request.method, headers: relayed(request.headers), body: request });
    response.writeHead(statusCode, relayed(headers));
    body.pipe(response);
  } catch (error) {
    response.writeHead(502).end(String(error));
  }
});
server.keepAliveTimeout = 120_000;
server.listen(0, '127.0.0.1', () => console.log(`bare proxy on http://127.0.0.1:${server.address().port}`));
