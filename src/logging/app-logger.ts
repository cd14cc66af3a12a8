import type { LoggerService } from '@nestjs/common';
import type { Level, Logger } from 'pino';

/** Nest's own start-up lines, one for each module, controller and route (some fifty): wanted only when debugging a start. */
const START_UP_CONTEXTS = new Set(['NestFactory', 'InstanceLoader', 'RoutesResolver', 'RouterExplorer', 'NestApplication']);

/**
 * Nest's and the library's own lines (`new Logger(context).warn(…)`) as pino JSON: the context in
 * `context`, an error in `err`, an object's fields merged into the line. Nest's start-up lines are
 * debug lines: the gateway's start summary says what they would.
 */
export class AppLogger implements LoggerService {
  constructor(private readonly logger: Logger) {}

  log(message: unknown, ...params: unknown[]): void {
    this.write(START_UP_CONTEXTS.has(params.at(-1) as string) ? 'debug' : 'info', message, params);
  }

  error(message: unknown, ...params: unknown[]): void {
    this.write('error', message, params);
  }

  warn(message: unknown, ...params: unknown[]): void {
    this.write('warn', message, params);
  }

  debug(message: unknown, ...params: unknown[]): void {
    this.write('debug', message, params);
  }

  verbose(message: unknown, ...params: unknown[]): void {
    this.write('trace', message, params);
  }

  fatal(message: unknown, ...params: unknown[]): void {
    this.write('fatal', message, params);
  }

  /** Nest passes the context last, when there is one. */
  private write(level: Level, message: unknown, params: unknown[]): void {
    const fields: Record<string, unknown> = params.length > 0 ? { context: params[params.length - 1] } : {};
    const rest = params.slice(0, -1) as [string?, ...unknown[]];
    if (message instanceof Error) return this.logger[level]({ ...fields, err: message }, ...rest);
    if (typeof message === 'object') return this.logger[level]({ ...fields, ...message }, ...rest);
    const stack = stackOf(level, message, rest);
    if (stack !== undefined) return this.logger[level]({ ...fields, err: errorWithStack(message as string, stack) });
    this.logger[level](fields, message as string, ...rest);
  }
}

/** Nest's exception handlers call `error(message, stack)`: that stack belongs to an error, not to the message's arguments. */
function stackOf(level: Level, message: unknown, rest: unknown[]): string | undefined {
  const [stack] = rest;
  const isStack = level === 'error' && typeof message === 'string' && rest.length === 1 && typeof stack === 'string' && /\n\s*at /.test(stack);
  return isStack ? stack : undefined;
}

function errorWithStack(message: string, stack: string): Error {
  const error = new Error(message);
  error.stack = stack;
  return error;
}
