import { UpstreamUnavailableError } from '@tollgate/ai';
import { GatewayHttpException } from './gateway-http.exception';
import { toOpenAiError } from './openai-error';

/** The gateway's words on top of the library's mapping (libs/ai/src/http/openai-error.spec.ts covers the mapping). */
describe('toOpenAiError (gateway)', () => {
  it('should keep the fields of a gateway HTTP exception', () => {
    expect(toOpenAiError(GatewayHttpException.invalidApiKey('no key'), 'req-1')).toEqual({
      status: 401,
      body: { error: { message: 'no key', type: 'invalid_request_error', code: 'invalid_api_key', param: null } },
      headers: {},
    });
  });

  it('should name the gateway and the request id in an unexpected 500, and nothing of the error', () => {
    const response = toOpenAiError(new TypeError('secret internals: sk-live-123'), 'req-1');

    expect(response.status).toBe(500);
    expect(response.body.error.message).toBe('The gateway failed unexpectedly. Quote request id req-1 to its operator.');
    expect(response.body.error.message).not.toContain('sk-live');
  });

  it("should answer library errors with the library's mapping", () => {
    expect(toOpenAiError(new UpstreamUnavailableError('upstream_error', { retryAfterMs: 2500 }), 'req-1')).toMatchObject({
      status: 503,
      body: { error: { code: 'upstream_unavailable' } },
      headers: { 'retry-after': '3', 'retry-after-ms': '2500' },
    });
  });
});
