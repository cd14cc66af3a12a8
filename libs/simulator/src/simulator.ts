import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { serveApi } from './api';
import { CONTROL_PREFIX, handleControl } from './control';
import { Exchange } from './exchange';
import { pathOf } from './http-io';
import { SimulatorState } from './state';
import type { RunningSimulator, SimulatorOptions } from './types';
import { parseConfigPatch, parseFaults, parseKeys } from './validation';

export async function startSimulator(options: SimulatorOptions = {}): Promise<RunningSimulator> {
  const faults = parseFaults(options.faults ?? []);
  const state = new SimulatorState({ acceptedKeys: parseKeys(options.acceptedKeys), seed: options.seed ?? 1, faults });
  const server = createServer((req, res) => void handleRequest(state, req, res));
  const sockets = trackSockets(server);
  const host = options.host ?? '127.0.0.1';
  await listen(server, options.port ?? 0, host);
  const { port } = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;

  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}/v1`,
    port,
    enqueueFaults: (...faults) => state.enqueueFaults(parseFaults(faults)),
    configure: (config) => state.configure(parseConfigPatch(config)),
    setAcceptedKeys: (keys) => state.setAcceptedKeys(parseKeys(keys)),
    calls: () => state.calls(),
    reset: () => state.reset(),
    close: () => (closing ??= shutDown(server, sockets, state)),
  };
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function trackSockets(server: Server): Set<Socket> {
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  return sockets;
}

/** Resolves once every socket is closed, so the calls they carried are final (aborted or finished). */
async function shutDown(server: Server, sockets: Set<Socket>, state: SimulatorState): Promise<void> {
  state.shuttingDown = true;
  const closed = new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
  const socketsClosed = [...sockets].map((socket) => once(socket, 'close'));
  // Hung and slow requests would otherwise keep close() waiting forever.
  for (const socket of sockets) socket.destroy();
  await Promise.all([closed, ...socketsClosed]);
}

async function handleRequest(state: SimulatorState, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = pathOf(req.url);
  if (path.startsWith(CONTROL_PREFIX)) {
    await handleControl(state, req, res, path).catch(() => res.destroy());
    return;
  }
  const ex = new Exchange(req, res, state.recordCall(req.method ?? 'GET', path), () => state.shuttingDown);
  try {
    await serveApi(ex, state, path);
  } catch (error) {
    ex.fail(error);
  }
}
