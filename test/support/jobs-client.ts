import type { ChatCompletionJob } from '@tollgate/ai';
import { createServer, IncomingHttpHeaders } from 'node:http';
import { AddressInfo } from 'node:net';

export interface HttpAnswer<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
}

export interface OpenAiErrorBody {
  error: { message: string; type: string; code: string | null; param: string | null };
}

/** A tenant's side of the async routes, over real HTTP. */
export class JobsClient {
  constructor(
    private readonly gatewayUrl: string,
    private readonly key: string,
  ) {}

  submit(body: object): Promise<HttpAnswer<ChatCompletionJob & { estimated_wait_seconds: number }>> {
    return this.call('POST', '/v1/async/chat/completions', body);
  }

  get(id: string): Promise<HttpAnswer<ChatCompletionJob>> {
    return this.call('GET', `/v1/async/jobs/${id}`);
  }

  cancel(id: string): Promise<HttpAnswer<ChatCompletionJob>> {
    return this.call('DELETE', `/v1/async/jobs/${id}`);
  }

  /** Polls the job until it is finished (succeeded, failed or cancelled). */
  async finished(id: string, timeoutMs = 10_000): Promise<ChatCompletionJob> {
    const started = Date.now();
    for (;;) {
      const { body } = await this.get(id);
      if (['succeeded', 'failed', 'cancelled'].includes(body.status)) return body;
      if (Date.now() - started > timeoutMs) throw new Error(`job ${id} still ${body.status} after ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  private async call<T>(method: string, path: string, body?: object): Promise<HttpAnswer<T>> {
    const response = await fetch(`${this.gatewayUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${this.key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: response.status, headers: response.headers, body: (await response.json()) as T };
  }
}

export interface ReceivedWebhook {
  headers: IncomingHttpHeaders;
  rawBody: string;
}

/** A real HTTP server on loopback that records every webhook it receives and answers with `statuses` in turn (then 200). */
export async function startWebhookReceiver(statuses: number[] = []): Promise<{ url: string; received: ReceivedWebhook[]; close(): Promise<void> }> {
  const received: ReceivedWebhook[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push({ headers: request.headers, rawBody: Buffer.concat(chunks).toString('utf8') });
      response.writeHead(statuses.shift() ?? 200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks/tollgate`,
    received,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** Polls until `check` stops rejecting (it may be async), for what a worker does a little later. */
export async function eventually(check: () => unknown, timeoutMs = 5_000): Promise<void> {
  const started = Date.now();
  for (;;) {
    try {
      return void (await check());
    } catch (error) {
      if (Date.now() - started > timeoutMs) throw error;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}
