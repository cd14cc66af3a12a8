import { ArgumentsHost, Catch } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { isAiError, OpenAiErrorResponse, OpenAiExceptionFilter } from '@tollgate/ai';
import { FastifyReply, FastifyRequest } from 'fastify';
import { annotateRequestLog } from '../logging/request-log';
import { GATEWAY_ERROR_WORDING } from './openai-error';

/** The library's filter, plus what the gateway's access log needs: the error code on the request's line. */
@Catch()
export class OpenAiErrorFilter extends OpenAiExceptionFilter {
  constructor(adapterHost: HttpAdapterHost) {
    super(adapterHost, GATEWAY_ERROR_WORDING);
  }

  override catch(exception: unknown, host: ArgumentsHost): void {
    const request = host.switchToHttp().getRequest<FastifyRequest>();
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    // An upload the client aborted fails here as a socket error: nobody is left to answer, nothing failed (the request line says request_aborted).
    if (request.raw.readableAborted || reply.raw.destroyed) return;
    super.catch(exception, host);
  }

  protected override report(exception: unknown, answer: OpenAiErrorResponse, host: ArgumentsHost): void {
    const { code, type } = answer.body.error;
    annotateRequestLog(host.switchToHttp().getRequest<FastifyRequest>().raw, { errorCode: isAiError(exception) ? exception.code : (code ?? type) });
    super.report(exception, answer, host);
  }
}
