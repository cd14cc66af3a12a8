import { HttpException } from '@nestjs/common';

export interface OpenAiErrorFields {
  message: string;
  type: string;
  code: string | null;
  param: string | null;
}

/** An error the gateway itself raises at the HTTP edge, already in OpenAI's terms. */
export class GatewayHttpException extends HttpException {
  constructor(
    status: number,
    readonly fields: OpenAiErrorFields,
  ) {
    super(fields.message, status);
  }

  static invalidApiKey(message: string): GatewayHttpException {
    return new GatewayHttpException(401, { message, type: 'invalid_request_error', code: 'invalid_api_key', param: null });
  }

  static invalidRequest(message: string, param: string | null): GatewayHttpException {
    return new GatewayHttpException(400, { message, type: 'invalid_request_error', code: null, param });
  }
}
