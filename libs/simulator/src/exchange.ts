import type { IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { sendJson } from './http-io';
import { errorBody, standardHeaders, type OpenAIErrorBody } from './openai-shapes';
import type { ErrorResponse } from './presets';
import type { SimulatorCall } from './types';
import { InvalidInput } from './validation';

/**
 * One recorded API call: its request, its response, and what happened to the connection.
 * Whoever closes the connection, the call gets its `finishedAt` and any pending delay is cancelled.
 */
export class Exchange {
  /** Created on the first delay only: most calls never wait, and aborting costs a DOMException. */
  private abort: AbortController | undefined;
  private closed = false;
  private closedBySimulator = false;

  constructor(
    readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    readonly call: SimulatorCall,
    private readonly isShuttingDown: () => boolean,
  ) {
    res.on('close', () => this.onClose());
  }

  /** True once nothing more can be sent: the response is done or the connection is gone. */
  get gone(): boolean {
    return this.closed || this.res.destroyed;
  }

  /** Waits `ms`; rejects (and clears its timer) as soon as the connection closes. */
  delay(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    this.abort ??= new AbortController();
    if (this.closed) this.abort.abort();
    return sleep(ms, undefined, { signal: this.abort.signal });
  }

  sendJson(status: number, json: string, headers: Record<string, string> = {}): void {
    this.call.status = status;
    sendJson(this.res, status, json, { ...standardHeaders(this.call), ...headers });
  }

  sendError({ status, body, headers }: ErrorResponse): void {
    this.sendJson(status, JSON.stringify(body), headers);
  }

  startStream(): void {
    this.call.status = 200;
    this.res.writeHead(200, {
      ...standardHeaders(this.call),
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
    });
  }

  write(data: string): void {
    this.res.write(data);
  }

  end(data?: string): void {
    this.res.end(data);
  }

  /**
   * Sends server-sent events `intervalMs` apart, each written (and so flushed) on its own; then ends the response
   * when `complete`, else drops the connection after the last: a stream cut mid-way.
   */
  async sendEvents(events: readonly string[], intervalMs: number, complete: boolean): Promise<void> {
    const finish = (data: string) => (complete ? this.end(data) : this.writeThenDrop(data));
    if (intervalMs === 0 || events.length === 0) return finish(events.join(''));
    for (let i = 0; i < events.length - 1; i++) {
      this.write(events[i]);
      await this.delay(intervalMs);
    }
    finish(events[events.length - 1]);
  }

  /** Sends `data` (possibly nothing), then drops the connection once it is flushed: a stream cut mid-way. */
  writeThenDrop(data: string): void {
    this.closedBySimulator = true;
    this.res.flushHeaders();
    this.res.write(data, () => this.res.destroy());
  }

  /** Drops the connection with a TCP reset and no response at all. */
  reset(): void {
    this.closedBySimulator = true;
    this.req.socket.resetAndDestroy();
  }

  /** Answers an unexpected error, unless there is no one left to answer. */
  fail(error: unknown): void {
    if (this.gone) return;
    if (this.res.headersSent) {
      this.res.destroy();
      return;
    }
    this.sendError(errorResponse(error));
  }

  private onClose(): void {
    this.call.finishedAt = Date.now();
    this.call.aborted = !this.res.writableFinished && !this.closedBySimulator && !this.isShuttingDown();
    this.closed = true;
    this.abort?.abort();
  }
}

function errorResponse(error: unknown): ErrorResponse {
  const body: OpenAIErrorBody =
    error instanceof InvalidInput
      ? errorBody(error.message, 'invalid_request_error', error.param, error.code)
      : errorBody(`The simulator failed: ${error instanceof Error ? error.message : String(error)}`, 'server_error');
  return { status: error instanceof InvalidInput ? 400 : 500, body, headers: {} };
}
