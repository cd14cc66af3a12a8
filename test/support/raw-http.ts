import { connect, Socket } from 'node:net';

/** A TCP connection to the gateway on loopback, for what an HTTP client library would not send. */
export async function rawConnection(gatewayUrl: string): Promise<RawConnection> {
  const { hostname, port } = new URL(gatewayUrl);
  const socket = connect({ host: hostname, port: Number(port) });
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  return new RawConnection(socket);
}

export class RawConnection {
  private received = '';
  /** Resolves when the server has closed the connection (or it broke). */
  readonly closed: Promise<void>;

  constructor(readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.received += chunk;
    });
    // A reset after the server answered is the server closing too.
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
  }

  get isClosed(): boolean {
    return this.socket.destroyed;
  }

  send(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Everything the server sent, once it closed the connection. */
  async receivedWhenClosed(): Promise<string> {
    await this.closed;
    return this.received;
  }

  /** Everything the server sent so far. */
  get text(): string {
    return this.received;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** The HTTP/1.1 responses in what a connection received, in order (bodies with a Content-Length only). */
export function parseResponses(text: string): RawResponse[] {
  const responses: RawResponse[] = [];
  let rest = text;
  while (rest.startsWith('HTTP/1.1 ')) {
    const headerEnd = rest.indexOf('\r\n\r\n');
    if (headerEnd < 0) break;
    const [statusLine, ...headerLines] = rest.slice(0, headerEnd).split('\r\n');
    const headers = Object.fromEntries(headerLines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
    const length = Number(headers['content-length'] ?? 0);
    const bodyStart = headerEnd + 4;
    const body = Buffer.from(rest.slice(bodyStart)).subarray(0, length).toString('utf8');
    responses.push({ status: Number(statusLine.split(' ')[1]), headers, body });
    rest = rest.slice(bodyStart + body.length);
  }
  return responses;
}
