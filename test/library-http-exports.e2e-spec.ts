import { Body, Controller, Get, INestApplication, Module, Post, Res, UseFilters } from '@nestjs/common';
import { AbstractHttpAdapter, NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { HealthCheck, HealthCheckResult, HealthCheckService, TerminusModule } from '@nestjs/terminus';
import { AiModule, AiService, ChatRequest, OpenAiExceptionFilter, sendChatStream } from '@tollgate/ai';
import { AiHealthIndicators } from '@tollgate/ai/health';
import { RunningSimulator, startSimulator } from '@tollgate/simulator';
import type { ServerResponse } from 'node:http';
import OpenAI from 'openai';
import type { ChatCompletion, ChatCompletionChunk } from 'openai/resources/chat/completions';
import { eventually } from '../libs/ai/test/async';

/**
 * A user's own NestJS app, with none of the gateway's code: its controllers call AiService and use
 * only what @tollgate/ai exports for HTTP (the OpenAI error filter, the SSE helper, the health
 * indicators), on Express and on Fastify, over real HTTP with the official SDK as the client.
 */
type ChatBody = ChatRequest & { stream?: boolean };

@Controller('v1/chat')
@UseFilters(OpenAiExceptionFilter)
class UserChatController {
  constructor(private readonly ai: AiService) {}

  @Post('completions')
  async create(@Body() { stream: _stream, ...request }: ChatBody): Promise<ChatCompletion> {
    return (await this.ai.chat(request, { tenantId: 'acme' })).completion;
  }
}

/** A separate route, since a handler that takes `@Res()` answers itself (here: Express's `res` or Fastify's reply). */
@Controller('stream/v1/chat')
@UseFilters(OpenAiExceptionFilter)
class UserStreamController {
  constructor(private readonly ai: AiService) {}

  @Post('completions')
  async create(@Body() { stream: _stream, ...request }: ChatBody, @Res() response: ServerResponse): Promise<void> {
    const chunks = await this.ai.chatStream(request, { tenantId: 'acme' });
    await sendChatStream(response, chunks, { 'x-served-model': chunks.model });
  }
}

@Controller()
@UseFilters(OpenAiExceptionFilter)
class UserHealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: AiHealthIndicators,
  ) {}

  @Get('health/ready')
  @HealthCheck()
  ready(): Promise<HealthCheckResult> {
    return this.health.check([() => this.indicators.database(), () => this.indicators.redis(), () => this.indicators.upstreamKey()]);
  }

  @Get('boom')
  boom(): never {
    throw new TypeError('internal detail: sk-user-secret');
  }
}

async function rejectionOf(promise: Promise<unknown>): Promise<InstanceType<typeof OpenAI.APIError>> {
  const error = await promise.then(
    () => new Error('expected the call to fail, it succeeded'),
    (failure: unknown) => failure,
  );
  if (error instanceof OpenAI.APIError) return error;
  throw error;
}

const ADAPTERS: [string, () => AbstractHttpAdapter][] = [
  ['Express', () => new ExpressAdapter()],
  ['Fastify', () => new FastifyAdapter()],
];

describe.each(ADAPTERS)("@tollgate/ai's HTTP exports in a plain NestJS app on %s", (_name, adapter) => {
  let simulator: RunningSimulator;
  let app: INestApplication;
  let url: string;
  let client: OpenAI;
  let streamClient: OpenAI;

  beforeAll(async () => {
    simulator = await startSimulator();
    @Module({
      imports: [
        AiModule.forRoot({ upstream: { baseURL: simulator.url, apiKey: 'sk-user-app' }, retry: { maxAttempts: 2, baseDelayMs: 1 } }),
        TerminusModule,
      ],
      controllers: [UserChatController, UserStreamController, UserHealthController],
      providers: [AiHealthIndicators],
    })
    class UserAppModule {}
    app = await NestFactory.create(UserAppModule, adapter(), { logger: false });
    await app.listen(0, '127.0.0.1');
    url = await app.getUrl();
    // No SDK retries: what is asserted is the first answer.
    client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'sk-own-key', maxRetries: 0 });
    streamClient = new OpenAI({ baseURL: `${url}/stream/v1`, apiKey: 'sk-own-key', maxRetries: 0 });
  });
  afterAll(async () => {
    await app.close();
    await simulator.close();
  });
  beforeEach(() => simulator.reset());

  const messages = [{ role: 'user' as const, content: 'Say hello.' }];

  it('should answer a chat through AiService', async () => {
    const completion = await client.chat.completions.create({ model: 'gpt-4o-mini', messages });

    expect(completion.choices[0].message.content).toEqual(expect.any(String));
  });

  it("should answer an upstream failing until the retries are spent with OpenAI's 503, Retry-After and retry-after-ms", async () => {
    simulator.enqueueFaults({ preset: 'server_error', times: 10 });

    const error = await rejectionOf(client.chat.completions.create({ model: 'gpt-4o-mini', messages }));

    expect(error.status).toBe(503);
    expect(error.error).toEqual({ message: expect.stringContaining('Retry-After'), type: 'server_error', code: 'upstream_unavailable', param: null });
    expect(Number(error.headers?.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const ms = Number(error.headers?.get('retry-after-ms'));
    expect(ms).toBeGreaterThanOrEqual(1000);
    expect(Number(error.headers?.get('retry-after'))).toBe(Math.ceil(ms / 1000));
    expect(simulator.calls()).toHaveLength(2);
  });

  it('should relay a stream chunk by chunk, before the upstream has finished', async () => {
    simulator.configure({ chunkIntervalMs: 100 });
    const { data, response } = await streamClient.chat.completions.create({ model: 'gpt-4o-mini', messages, stream: true }).withResponse();

    const iterator = data[Symbol.asyncIterator]();
    const first = await iterator.next();
    await iterator.next();

    expect(response.headers.get('content-type')).toContain('text/event-stream');
    expect(response.headers.get('x-served-model')).toBe('gpt-4o-mini');
    expect(first.value).toMatchObject({ object: 'chat.completion.chunk' });
    expect(simulator.calls()[0].finishedAt).toBeUndefined();
    const rest: ChatCompletionChunk[] = [];
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) rest.push(next.value);
    expect(rest.length).toBeGreaterThan(1);
    await eventually(() => expect(simulator.calls()[0].finishedAt).toBeDefined());
  });

  it('should end the event stream with data: [DONE]', async () => {
    const response = await fetch(`${url}/stream/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages, stream: true }),
    });
    const text = await response.text();

    expect(response.status).toBe(200);
    expect(text.startsWith('data: {')).toBe(true);
    expect(text.endsWith('data: [DONE]\n\n')).toBe(true);
  });

  it('should send a failure after the first chunk as a last error event, which the SDK raises', async () => {
    simulator.enqueueFaults({ preset: 'mid_stream_failure' });
    const received: ChatCompletionChunk[] = [];
    let failure: unknown;

    try {
      for await (const chunk of await streamClient.chat.completions.create({ model: 'gpt-4o-mini', messages, stream: true })) received.push(chunk);
    } catch (error) {
      failure = error;
    }

    expect(received.length).toBeGreaterThanOrEqual(1);
    expect(failure).toBeInstanceOf(OpenAI.APIError);
    expect((failure as InstanceType<typeof OpenAI.APIError>).message).toContain('stream ended unexpectedly');
  });

  it('should answer a failure before the first chunk with an ordinary status, through the filter', async () => {
    simulator.enqueueFaults({ preset: 'insufficient_quota' });

    const error = await rejectionOf(streamClient.chat.completions.create({ model: 'gpt-4o-mini', messages, stream: true }));

    expect(error.status).toBe(503);
    expect(error.code).toBe('upstream_quota_exhausted');
    expect(error.headers?.get('retry-after')).toEqual(expect.any(String));
  });

  it('should hide an unexpected error behind a 500 internal_error that shows nothing of it', async () => {
    const response = await fetch(`${url}/boom`);
    const body = await response.text();

    expect(response.status).toBe(500);
    expect(JSON.parse(body)).toEqual({ error: { message: expect.stringContaining('failed unexpectedly'), type: 'server_error', code: 'internal_error', param: null } });
    expect(body).not.toContain('sk-user-secret');
  });

  it('should report readiness with the exported terminus indicators', async () => {
    const response = await fetch(`${url}/health/ready`);

    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({
      status: 'ok',
      details: { database: { status: 'up', configured: false }, redis: { status: 'up', configured: false }, upstreamKey: { status: 'up' } },
    });
  });
});
