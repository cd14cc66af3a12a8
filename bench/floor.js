// Baseline 2, the floor of this stack: NestJS 11 on Fastify with one POST route behind one guard
// that checks a bearer token, forwarding the parsed body with undici Pool.request and relaying the
// answer (JSON or a stream) as it comes. What the gateway costs above this is its own.
//
//   UPSTREAM_URL=http://127.0.0.1:port FLOOR_TOKEN=… node bench/floor.js      (prints its URL)
'use strict';
require('reflect-metadata');
const { Controller, Injectable, Module, Post, Req, Res, UseGuards } = require('@nestjs/common');
const { NestFactory } = require('@nestjs/core');
const { FastifyAdapter } = require('@nestjs/platform-fastify');
const { Pool } = require('undici');

const NOT_RELAYED = new Set(['connection', 'keep-alive', 'transfer-encoding']);
const relayed = (headers) => Object.fromEntries(Object.entries(headers).filter(([name]) => !NOT_RELAYED.has(name)));
const upstream = new Pool(process.env.UPSTREAM_URL);

class BearerGuard {
  canActivate(context) {
    return context.switchToHttp().getRequest().headers.authorization === `Bearer ${process.env.FLOOR_TOKEN}`;
  }
}

class ChatController {
  async complete(request, reply) {
    const { statusCode, headers, body } = await upstream.request({
      path: '/v1/chat/completions',
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer sk-bench-upstream' },
      body: JSON.stringify(request.body),
    });
    reply.status(statusCode).headers(relayed(headers)).send(body);
  }
}

class FloorModule {}

// Plain JavaScript has no decorator syntax: these calls are what tsc emits for @Injectable(),
// @Controller('v1'), @Post(…) @UseGuards(…), @Req() and @Res(), and @Module(…).
Injectable()(BearerGuard);
Controller('v1')(ChatController);
Reflect.decorate([Post('chat/completions'), UseGuards(BearerGuard)], ChatController.prototype, 'complete', Object.getOwnPropertyDescriptor(ChatController.prototype, 'complete'));
Req()(ChatController.prototype, 'complete', 0);
Res()(ChatController.prototype, 'complete', 1);
Module({ controllers: [ChatController], providers: [BearerGuard] })(FloorModule);

async function main() {
  const app = await NestFactory.create(FloorModule, new FastifyAdapter(), { logger: ['error', 'warn'] });
  await app.listen({ port: 0, host: '127.0.0.1' });
  console.log(`floor on ${await app.getUrl()}`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
