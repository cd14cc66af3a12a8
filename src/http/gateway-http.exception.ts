import { OpenAiHttpException } from '@tollgate/ai';

export type { OpenAiErrorFields } from '@tollgate/ai';

/** An error the gateway itself raises at the HTTP edge, already in OpenAI's terms. */
export class GatewayHttpException extends OpenAiHttpException {
  static invalidApiKey(message: string): GatewayHttpException {
    return new GatewayHttpException(401, { message, type: 'invalid_request_error', code: 'invalid_api_key', param: null });
  }

  static invalidRequest(message: string, param: string | null): GatewayHttpException {
    return new GatewayHttpException(400, { message, type: 'invalid_request_error', code: null, param });
  }
}
