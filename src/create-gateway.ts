import { ConfigService } from '@nestjs/config';
import { HttpAdapterHost, NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import type { RawServerDefault } from 'fastify';
import { Logger } from 'nestjs-pino';
import { __resetOutOfContextForTests as forgetPreviousAppLogger } from 'nestjs-pino/PinoLogger';
import type { DestinationStream } from 'pino';
import { setUpOpenApi } from './admin/openapi';
import { AppModule, Environment } from './app.module';
import { GATEWAY_CONFIG, GatewayConfig } from './config/gateway-config';
import { closeConnectionsOnShutdown } from './http/close-connections-on-shutdown';
import { GatewayHttpException } from './http/gateway-http.exception';
import { FASTIFY_EDGE_OPTIONS, limitHttpServer } from './http/http-server';
import { exceededJsonBudget } from './http/json-budget';
import { OpenAiErrorFilter } from './http/openai-error.filter';
import { requestIdFor } from './http/request-id';
import { createValidationPipe } from './http/validation.pipe';

export interface GatewayOptions {
  /** Where the JSON log lines go, or false for nowhere. @default stdout */
  log?: DestinationStream | false;
}

const NOWHERE: DestinationStream = { write: () => undefined };

/** Builds the gateway application (not yet listening); `main.ts` and the e2e suites share it. */
export async function createGateway(env: Environment = process.env, options: GatewayOptions = {}): Promise<NestFastifyApplication> {
  const adapter = new FastifyAdapter({ genReqId: requestIdFor, requestIdHeader: false, ...FASTIFY_EDGE_OPTIONS });
  const destination = options.log === false ? NOWHERE : options.log;
  // nestjs-pino keeps the logger for lines outside a request in a module-level variable that the first
  // app sets; without this, a second gateway in one process (the e2e suites) would log into the first's.
  forgetPreviousAppLogger();
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(env, destination), adapter, {
    abortOnError: false,
    bufferLogs: true,
    autoFlushLogs: false,
  });
  app.useLogger(app.get(Logger));
  app.useGlobalFilters(new OpenAiErrorFilter(app.get(HttpAdapterHost)));
  app.useGlobalPipes(createValidationPipe());
  const config = app.get(ConfigService).getOrThrow<GatewayConfig>(GATEWAY_CONFIG);
  limitHttpServer(app, config.http);
  readJsonBodiesOnly(app, config.maxBodyBytes);
  app
    .getHttpAdapter()
    .getInstance()
    .addHook('onRequest', async (request, reply) => {
      void reply.header('x-request-id', request.id);
    });
  closeConnectionsOnShutdown(app);
  setUpOpenApi(app);
  app.enableShutdownHooks();
  await app.init();
  // Held back until now: the logger's destination and redaction are set up by app.init().
  app.flushLogs();
  return app;
}

/**
 * JSON is the only body the gateway reads, and only up to `maxBodyBytes`; everything that goes
 * wrong before the handler is a 4xx in OpenAI's shape. The Content-Length is checked before a byte
 * is read; Fastify counts the bytes of a chunked body as it reads them.
 */
function readJsonBodiesOnly(app: NestFastifyApplication, maxBodyBytes: number): void {
  const fastify = app.getHttpAdapter().getInstance();
  const parseJson = fastify.getDefaultJsonParser('error', 'error');
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser('*', (_request, _payload, done) => {
    done(bodyError(415, 'The request body must be JSON, sent with Content-Type: application/json.'), undefined);
  });
  app.useBodyParser<RawServerDefault>('application/json', { bodyLimit: maxBodyBytes }, (request, body, done) => {
    if (body.length === 0) return done(bodyError(400, 'The request body is empty: send a JSON object.'), undefined);
    const text = body.toString('utf8');
    // Before parsing or any transform: their work grows faster than the body (see json-budget.ts).
    const excess = exceededJsonBudget(text);
    if (excess) return done(bodyError(400, excess.message, excess.param), undefined);
    parseJson(request, text, (error, value) => {
      if (error) return done(bodyError(400, 'We could not parse the JSON body of your request: send one valid JSON object.'), undefined);
      done(null, value);
    });
  });
  fastify.addHook('preParsing', async (request, reply, payload) => {
    if (Number(request.headers['content-length']) > maxBodyBytes) {
      void reply.header('connection', 'close');
      throw bodyError(413, `The request body is larger than this gateway's limit of ${maxBodyBytes} bytes.`);
    }
    return payload;
  });
}

function bodyError(status: number, message: string, param: string | null = null): GatewayHttpException {
  return new GatewayHttpException(status, { message, type: 'invalid_request_error', code: null, param });
}
