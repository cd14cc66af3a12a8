import { DynamicModule, Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { UpstreamKeyManager } from '@tollgate/ai';
import { LoggerModule } from 'nestjs-pino';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DestinationStream } from 'pino';
import type { Options } from 'pino-http';
import { GATEWAY_CONFIG, GatewayConfig } from '../config/gateway-config';
import { requestIdFor } from '../http/request-id';
import { requestLogFieldsOf } from './request-log';
import { scrubbingDestination } from './scrubbing-destination';

/** Probes and scrapes come every few seconds: a line each would bury the requests that matter. */
const UNLOGGED_PATHS = new Set(['/health/live', '/health/ready', '/metrics']);

/** Wherever a credential could appear in a logged object, it is replaced. */
const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  'authorization',
  'apiKey',
  'key',
  '*.authorization',
  '*.apiKey',
  '*.key',
];

/**
 * Every log line is JSON from pino. Each request gets one line when its response ends, with the
 * request id, the tenant and key, the models, tokens, cost, attempts, breaker state, outcome,
 * error code and latency (see request-log.ts for how the fields get there).
 */
@Module({})
export class LoggingModule {
  /** `destination` is where the lines go: stdout unless a test captures them. */
  static forRoot(destination?: DestinationStream): DynamicModule {
    return {
      module: LoggingModule,
      imports: [
        LoggerModule.forRootAsync({
          inject: [ConfigService, UpstreamKeyManager],
          useFactory: (config: ConfigService, keys: UpstreamKeyManager) => {
            const gateway = config.getOrThrow<GatewayConfig>(GATEWAY_CONFIG);
            const scrubber = keys.scrubber.with(() => gatewaySecretsOf(gateway));
            return { pinoHttp: requestLoggerOptions(gateway.logLevel, scrubbingDestination(scrubber, destination)) };
          },
        }),
      ],
      exports: [LoggerModule],
    };
  }
}

/** The gateway's own secrets, besides the upstream keys the library scrubs. */
function gatewaySecretsOf(config: GatewayConfig): Array<string | undefined> {
  return [config.adminToken, config.metricsToken, config.policies.jobs?.webhookSecret];
}

function pathOf(request: IncomingMessage & { originalUrl?: string }): string {
  return (request.originalUrl ?? request.url ?? '').split('?')[0];
}

export function requestLoggerOptions(level: string, destination?: DestinationStream): Options<IncomingMessage, ServerResponse> {
  return {
    level,
    stream: destination,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    // Fastify has already chosen the id (the caller's x-request-id when sane) and copied it onto the raw request.
    genReqId: (request) => (request as IncomingMessage & { id?: string }).id ?? requestIdFor(request),
    customAttributeKeys: { reqId: 'requestId', responseTime: 'latencyMs' },
    quietReqLogger: true,
    serializers: {
      req: (request: { method: string; url: string }) => ({ method: request.method, url: request.url }),
      res: (response: { statusCode: number }) => ({ statusCode: response.statusCode }),
    },
    // Middleware sees the URL after its mount path is cut off; middie keeps the whole one as originalUrl.
    autoLogging: { ignore: (request) => UNLOGGED_PATHS.has(pathOf(request)) },
    customLogLevel: (_request, response, error) => (error || response.statusCode >= 500 ? 'error' : 'info'),
    customSuccessMessage: () => 'request completed',
    customErrorMessage: () => 'request failed',
    customSuccessObject: (request, response, value: object) => ({ ...value, ...requestLogFieldsOf(request, response) }),
    // No `err`: for a 5xx pino-http makes one up, stack and all, on every request line; an unexpected
    // error is logged once, whole, by the exception filter, and an outage once per change of state.
    customErrorObject: (request, response, _error, { err: _made, ...value }: { err?: unknown }) => ({ ...value, ...requestLogFieldsOf(request, response) }),
  };
}
