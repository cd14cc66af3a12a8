import { OpenAiErrorOptions, OpenAiErrorResponse, toOpenAiError as libraryToOpenAiError } from '@tollgate/ai';

/** How the gateway words what the library's mapping leaves open: an unexpected error names the gateway. */
export const GATEWAY_ERROR_WORDING: OpenAiErrorOptions = { serverName: 'The gateway' };

/** Everything the gateway can throw, as OpenAI's error JSON with the right status: the library's mapping, in the gateway's words. */
export function toOpenAiError(exception: unknown, requestId: string): OpenAiErrorResponse {
  return libraryToOpenAiError(exception, { ...GATEWAY_ERROR_WORDING, requestId });
}
