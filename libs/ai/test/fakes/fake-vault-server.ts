import type { Server as HttpServer, IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';

/** What a fake vault does instead of answering: refuse as the real store would, or accept the request and never answer. */
export type VaultFault = 'not_found' | 'access_denied' | 'throttled' | 'hang';

/** One request as a fake vault saw it. */
export interface RecordedRequest {
  method: string;
  /** Path and query. */
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

/** The plumbing both fakes share: a loopback listener, request bodies, hung requests and a close that ends them. */
export class FakeVaultServer {
  /** Hung requests the client gave up on (it timed out or aborted). */
  abandoned = 0;
  private readonly hung = new Set<ServerResponse>();

  constructor(private readonly server: HttpServer | HttpsServer) {}

  async listen(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => resolve());
    });
    return (this.server.address() as AddressInfo).port;
  }

  /** Accepts the request and never answers, until the client goes away or the fake closes. */
  hang(res: ServerResponse): void {
    this.hung.add(res);
    res.on('close', () => {
      if (this.hung.delete(res)) this.abandoned++;
    });
  }

  async close(): Promise<void> {
    this.hung.clear();
    // Ends keep-alive and hung sockets too, which `close()` alone would wait for.
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/**
 * What both fake vaults share: their record of requests, the fault they play, and their listener.
 * A subclass answers each request in `answer`, with its body already read and recorded.
 */
export abstract class FakeVault {
  /** Every request, in order. */
  readonly requests: RecordedRequest[] = [];
  protected fault?: VaultFault;
  protected readonly server: FakeVaultServer;

  protected constructor(createServer: (listener: RequestListener) => HttpServer | HttpsServer) {
    this.server = new FakeVaultServer(createServer((req, res) => void this.receive(req, res)));
  }

  /** Makes every read of a secret fail this way until `fail(undefined)`. */
  fail(fault: VaultFault | undefined): void {
    this.fault = fault;
  }

  /** Hung requests the client gave up on. */
  get abandoned(): number {
    return this.server.abandoned;
  }

  /** Stops listening and drops every connection, hung ones included. */
  close(): Promise<void> {
    return this.server.close();
  }

  protected abstract answer(req: IncomingMessage, res: ServerResponse, body: string): void | Promise<void>;

  private async receive(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    this.requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
    await this.answer(req, res, body);
  }
}

export async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}
