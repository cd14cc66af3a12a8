import { createConnection, createServer, Server, Socket } from 'node:net';
import { AddressInfo } from 'node:net';

/** A loopback TCP proxy in front of a real service, so that a suite can take the service away and give it back. */
export interface TcpProxy {
  /** The port the proxy listens on: point a client at 127.0.0.1:`port` instead of the service. */
  readonly port: number;
  /** Drops every open connection and refuses new ones, as a service that went down does. */
  cut(): Promise<void>;
  /** Listens again on the same port and forwards to the service. */
  restore(): Promise<void>;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  };
  const forward = (client: Socket) => {
    const service = createConnection(target);
    track(client);
    track(service);
    client.pipe(service).pipe(client);
    client.on('error', () => service.destroy());
    service.on('error', () => client.destroy());
    client.on('close', () => service.destroy());
    service.on('close', () => client.destroy());
  };
  let server = createServer(forward);
  await listen(server, 0);
  const { port } = server.address() as AddressInfo;

  const cut = async () => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of sockets) socket.destroy();
    await closed;
  };
  return {
    port,
    cut,
    restore: async () => {
      if (server.listening) return;
      server = createServer(forward);
      await listen(server, port);
    },
    close: async () => {
      if (server.listening) await cut();
    },
  };
}

function listen(server: Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
}

/** The URL with its host and port replaced by the proxy's. */
export function throughProxy(url: string, proxy: TcpProxy): string {
  const parsed = new URL(url);
  parsed.hostname = '127.0.0.1';
  parsed.port = String(proxy.port);
  return parsed.toString();
}

/** The host and port a service URL names. */
export function targetOf(url: string, defaultPort: number): { host: string; port: number } {
  const parsed = new URL(url);
  return { host: parsed.hostname, port: parsed.port ? Number(parsed.port) : defaultPort };
}
