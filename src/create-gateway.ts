import { ConfigService } from '@nestjs/config';
import { HttpAdapterHost, NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import type { RawServerDefault } from 'fastify';
import type { DestinationStream } from 'pino';
import { setUpOpenApi } from './admin/openapi';
import { AppModule, Environment } from './app.module';
import { GATEWAY_CONFIG, GatewayConfig } from './config/gateway-config';
import { serveConsole } from './console/serve-console';
import { closeConnectionsOnShutdown } from './http/close-connections-on-shutdown';
import { GatewayHttpException } from './http/gateway-http.exception';
import { FASTIFY_EDGE_OPTIONS, limitHttpServer } from './http/http-server';
import { exceededJsonBudget } from './http/json-budget';
import { OpenAiErrorFilter } from './http/openai-error.filter';
import { requestIdFor } from './http/request-id';
import { createValidationPipe } from './http/validation.pipe';
import { AppLogger } from './logging/app-logger';
import { GATEWAY_LOG } from './logging/logging.module';
import { logRequests } from './logging/request-log';

export interface GatewayOptions {
  /** Where the JSON log lines go, or false for nowhere. @default stdout */
  log?: DestinationStream | false;
}

const NOWHERE: DestinationStream = { write: () => undefined };

/** Builds the gateway application (not yet listening); `main.ts` and the e2e suites share it. */
export async function createGateway(env: Environment = process.env, options: GatewayOptions = {}): Promise<NestFastifyApplication> {
  // No Nest middleware runs here (the request log is a Fastify hook): middie's hook would run on every
  // request for nothing. A middleware would need it back.
  const adapter = new FastifyAdapter({ genReqId: requestIdFor, requestIdHeader: false, skipMiddie: true, ...FASTIFY_EDGE_OPTIONS });
  const destination = options.log === false ? NOWHERE : options.log;
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(env, destination), adapter, { abortOnError: false, bufferLogs: true });
  app.useLogger(app.get(AppLogger));
  // Before the gateway's other request hooks, so that a request they refuse (a shutdown's 503) is logged too.
  logRequests(app.getHttpAdapter().getInstance(), app.get(GATEWAY_LOG));
  app.useGlobalFilters(new OpenAiErrorFilter(app.get(HttpAdapterHost)));
  app.useGlobalPipes(createValidationPipe());
  const config = app.get(ConfigService).getOrThrow<GatewayConfig>(GATEWAY_CONFIG);
  limitHttpServer(app, config.http);
  readJsonBodiesOnly(app, config.maxBodyBytes);
  app
    .getHttpAdapter()
    .getInstance()
    .addHook('onRequest', (request, reply, done) => {
      void reply.header('x-request-id', request.id);
      done();
    });
  closeConnectionsOnShutdown(app);
  if (config.docsEnabled) setUpOpenApi(app);
  serveConsole(app, { enabled: config.consoleEnabled });
  app.enableShutdownHooks();
  try {
    await app.init();
  } catch (error) {
    // A start stopped half-way (a refused key) leaves nothing open behind it: connections, timers, the database.
    await app.close().catch(() => undefined);
    throw error;
  }
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
    // No body at all, as many HTTP clients send with their JSON content type on every call (a DELETE, too): a route
    // that takes none is served, one that needs one says which field is missing, as without the header.
    if (body.length === 0) return done(null, undefined);
    const text = body.toString('utf8');
    // Before parsing or any transform: their work grows faster than the body (see json-budget.ts).
    const excess = exceededJsonBudget(text);
    if (excess) return done(bodyError(400, excess.message, excess.param), undefined);
    parseJson(request, text, (error, value) => {
      if (error) return done(bodyError(400, 'We could not parse the JSON body of your request: send one valid JSON object.'), undefined);
      done(null, value);
    });
  });
  fastify.addHook('preParsing', (request, reply, payload, done) => {
    if (Number(request.headers['content-length']) > maxBodyBytes) {
      void reply.header('connection', 'close');
      return done(bodyError(413, `The request body is larger than this gateway's limit of ${maxBodyBytes} bytes.`));
    }
    done(null, payload);
  });
}

function bodyError(status: number, message: string, param: string | null = null): GatewayHttpException {
  return new GatewayHttpException(status, { message, type: 'invalid_request_error', code: null, param });
}
