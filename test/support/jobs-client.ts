import type { ChatCompletionJob } from '@tollgate/ai';

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

export { eventually } from '../../libs/ai/test/async';
export { startWebhookReceiver } from '../../libs/ai/test/webhook-receiver';
export type { ReceivedWebhook } from '../../libs/ai/test/webhook-receiver';
