import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { AuthStyle } from './types';
import { InvalidInput } from './validation';

const INVALID_JSON_MESSAGE =
  'We could not parse the JSON body of your request. (HINT: This likely means you aren\'t using your HTTP library correctly. ' +
  'The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you have trouble figuring out how to fix ' +
  'this, please contact us through our help center at help.openai.com.)';

export async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new InvalidInput(INVALID_JSON_MESSAGE);
  }
}

/** The path without its query string. */
export function pathOf(url: string | undefined): string {
  const path = url ?? '/';
  const query = path.indexOf('?');
  return query < 0 ? path : path.slice(0, query);
}

export function queryParam(url: string | undefined, name: string): string | undefined {
  return new URL(url ?? '/', 'http://simulator').searchParams.get(name) ?? undefined;
}

/** The key of `Authorization: Bearer <key>`, else of Azure's `api-key: <key>`, with how it came. */
export function presentedKey(req: IncomingMessage): { key: string; auth: AuthStyle } | undefined {
  const bearer = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '')?.[1].trim();
  if (bearer) return { key: bearer, auth: 'bearer' };
  const apiKey = req.headers['api-key'];
  const key = (Array.isArray(apiKey) ? apiKey[0] : apiKey)?.trim();
  return key ? { key, auth: 'api-key' } : undefined;
}

/** A body cut half-way, sent with its own (correct) length: the HTTP exchange is complete, the JSON is not. */
export function firstHalfOf(text: string): string {
  return text.slice(0, Math.floor(text.length / 2));
}

export function sendJson(res: ServerResponse, status: number, json: string, headers: OutgoingHttpHeaders = {}): void {
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(json),
  });
  res.end(json);
}
