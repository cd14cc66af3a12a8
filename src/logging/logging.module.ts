import { DynamicModule, Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { UpstreamPool } from '@tollgate/ai';
import pino, { DestinationStream, Logger } from 'pino';
import { GATEWAY_CONFIG, GatewayConfig } from '../config/gateway-config';
import { AppLogger } from './app-logger';
import { stdoutIn } from './log-format';
import { scrubbingDestination } from './scrubbing-destination';

/** The pino logger the request lines are written with (see request-log.ts); the app's lines go through `AppLogger`. */
export const GATEWAY_LOG = Symbol('GATEWAY_LOG');

/** Wherever a credential could appear in an object an app line logs, it is replaced. */
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
 * Every log line is JSON from pino, scrubbed of secrets on its way out, then written to stdout as
 * LOG_FORMAT says (JSON in production, pino-pretty elsewhere). Each request gets one line when its
 * response ends, with the request id, the tenant and key, the models, tokens, cost, attempts, breaker
 * state, outcome, error code and latency (see request-log.ts).
 */
@Module({})
export class LoggingModule {
  /** `destination` is where the lines go, as JSON whatever LOG_FORMAT says: stdout unless a test captures them. */
  static forRoot(destination?: DestinationStream): DynamicModule {
    return {
      module: LoggingModule,
      providers: [
        {
          provide: GATEWAY_LOG,
          inject: [ConfigService, UpstreamPool],
          useFactory: (config: ConfigService, pool: UpstreamPool): Logger => {
            const gateway = config.getOrThrow<GatewayConfig>(GATEWAY_CONFIG);
            const scrubber = pool.scrubber.with(() => gatewaySecretsOf(gateway));
            return pino({ level: gateway.logLevel }, scrubbingDestination(scrubber, destination ?? stdoutIn(gateway.logFormat)));
          },
        },
        {
          provide: AppLogger,
          inject: [GATEWAY_LOG],
          // A request line has fixed fields, none a credential, and redaction costs more than the rest of
          // the line: only app lines, which may log any object, pay for it. The scrubber sees every line.
          useFactory: (log: Logger) => new AppLogger(log.child({}, { redact: { paths: REDACTED_PATHS, censor: '[redacted]' } })),
        },
      ],
      exports: [GATEWAY_LOG, AppLogger],
    };
  }
}

/** The gateway's own secrets, besides the upstream keys the library scrubs. */
function gatewaySecretsOf(config: GatewayConfig): Array<string | undefined> {
  return [config.adminToken, config.metricsToken, config.policies.jobs?.webhookSecret];
}
