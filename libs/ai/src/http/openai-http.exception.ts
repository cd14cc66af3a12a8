import { HttpException } from '@nestjs/common';

/** One error in OpenAI's shape: what `{"error": …}` holds. */
export interface OpenAiErrorFields {
  message: string;
  type: string;
  code: string | null;
  param: string | null;
}

/** An error an app's own HTTP edge raises (a guard, a pipe), already in OpenAI's terms: answered exactly as given. */
export class OpenAiHttpException extends HttpException {
  constructor(
    status: number,
    readonly fields: OpenAiErrorFields,
  ) {
    super(fields.message, status);
  }
}
