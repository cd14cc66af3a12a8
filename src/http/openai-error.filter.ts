import { ArgumentsHost, Catch, ExceptionFilter, Logger } from '@nestjs/common';
import { isAiError } from '@tollgate/ai';
import { FastifyReply, FastifyRequest } from 'fastify';
import { annotateRequestLog } from '../logging/request-log';
import { toOpenAiError } from './openai-error';

/** The one place where errors become HTTP responses, always in OpenAI's error shape. */
@Catch()
export class OpenAiErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger(OpenAiErrorFilter.name);

  catch(exception: unknown, host: ArgumentsHost): void {
    const request = host.switchToHttp().getRequest<FastifyRequest>();
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    // An upload the client aborted fails here as a socket error: nobody is left to answer, nothing failed (the request line says request_aborted).
    if (request.raw.readableAborted || reply.raw.destroyed) return;
    const response = toOpenAiError(exception, request.id);
    const { code, type } = response.body.error;
    annotateRequestLog(request.raw, { errorCode: isAiError(exception) ? exception.code : (code ?? type) });
    if (response.status >= 500 && !isAiError(exception)) {
      this.logger.error(`request ${request.id} failed unexpectedly`, exception instanceof Error ? exception.stack : String(exception));
    }
    // A stream that already started reports its error in-band (see sse.ts).
    if (reply.sent || reply.raw.headersSent) return;
    void reply.status(response.status).headers(response.headers).send(response.body);
  }
}
