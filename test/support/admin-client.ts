import { ADMIN_TOKEN } from './gateway-harness';

export interface AdminResponse {
  status: number;
  headers: Headers;
  /** The parsed JSON body (undefined when there is none, as for a 204), untyped: each case reads the shape its route returns. */
  body: any;
}

export interface AdminClient {
  get(path: string): Promise<AdminResponse>;
  post(path: string, body?: unknown): Promise<AdminResponse>;
  put(path: string, body?: unknown): Promise<AdminResponse>;
  patch(path: string, body?: unknown): Promise<AdminResponse>;
  delete(path: string): Promise<AdminResponse>;
}

/** The admin API over real HTTP with `fetch`, as an operator's script would call it; `token: null` sends no Authorization. */
export function adminClient(gatewayUrl: string, token: string | null = ADMIN_TOKEN): AdminClient {
  const send = async (method: string, path: string, body?: unknown): Promise<AdminResponse> => {
    const headers: Record<string, string> = {};
    if (token !== null) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(`${gatewayUrl}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await response.text();
    return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : undefined };
  };
  return {
    get: (path) => send('GET', path),
    post: (path, body) => send('POST', path, body),
    put: (path, body) => send('PUT', path, body),
    patch: (path, body) => send('PATCH', path, body),
    delete: (path) => send('DELETE', path),
  };
}

/** OpenAI's error shape, with the status and the fields a case pins. */
export function expectOpenAiError(response: AdminResponse, status: number, fields: { code?: string | null; param?: string | null; type?: string } = {}): void {
  expect({ status: response.status, keys: Object.keys(response.body?.error ?? {}).sort() }).toEqual({
    status,
    keys: ['code', 'message', 'param', 'type'],
  });
  expect(response.body.error).toMatchObject({ type: 'invalid_request_error', ...fields });
}
