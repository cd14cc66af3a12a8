import { ArgumentsHost, Catch, ExceptionFilter, Inject, Logger, Optional } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { isAiError } from '../errors/ai-errors';
import { OpenAiErrorOptions, OpenAiErrorResponse, toOpenAiError } from './openai-error';

/** What the filter adds to every answer it words. */
export type OpenAiExceptionFilterOptions = Pick<OpenAiErrorOptions, 'serverName'>;

/** Options of `OpenAiExceptionFilter` when Nest builds it (`APP_FILTER`, `@UseFilters(OpenAiExceptionFilter)`). */
export const OPENAI_EXCEPTION_FILTER_OPTIONS = Symbol('OPENAI_EXCEPTION_FILTER_OPTIONS');

/**
 * Answers everything a controller throws in OpenAI's error shape (see `toOpenAiError`), on Express
 * and Fastify alike: it writes through Nest's HTTP adapter, never the server's own objects. An
 * unexpected error is logged with its stack and answered as a 500 that names the request id, when
 * the request has one (`request.id`: Fastify's, or pino-http's on Express).
 */
@Catch()
export class OpenAiExceptionFilter implements ExceptionFilter {
  protected readonly logger = new Logger(OpenAiExceptionFilter.name);

  constructor(
    protected readonly adapterHost: HttpAdapterHost,
    @Optional() @Inject(OPENAI_EXCEPTION_FILTER_OPTIONS) protected readonly options: OpenAiExceptionFilterOptions = {},
  ) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const requestId = this.requestIdOf(http.getRequest<unknown>());
    const answer = toOpenAiError(exception, { ...this.options, requestId });
    this.report(exception, answer, host);
    this.send(http.getResponse<unknown>(), answer);
  }

  /** The id an unexpected error's message names. */
  protected requestIdOf(request: unknown): string | undefined {
    const id = (request as { id?: unknown } | undefined)?.id;
    return typeof id === 'string' || typeof id === 'number' ? String(id) : undefined;
  }

  /** Library errors are expected outcomes, already counted and logged by the library; anything else is a bug. */
  protected report(exception: unknown, answer: OpenAiErrorResponse, host: ArgumentsHost): void {
    if (answer.status < 500 || isAiError(exception)) return;
    const requestId = this.requestIdOf(host.switchToHttp().getRequest<unknown>()) ?? '(no id)';
    const stack = exception instanceof Error ? exception.stack : String(exception);
    this.logger.error(`request ${requestId} failed unexpectedly`, stack);
  }

  /** A response already under way (a stream) reports its error in-band instead: see `sendChatStream`. */
  protected send(response: unknown, answer: OpenAiErrorResponse): void {
    const adapter = this.adapterHost.httpAdapter;
    if (adapter.isHeadersSent(response)) return;
    for (const [name, value] of Object.entries(answer.headers)) adapter.setHeader(response, name, value);
    adapter.reply(response, answer.body, answer.status);
  }
}
