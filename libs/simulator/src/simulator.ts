import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { buildReply, firstHalfOf, sendCompletion, streamCompletion } from './chat-completions';
import { parseChatRequest } from './chat-request';
import { CONTROL_PREFIX, handleControl } from './control';
import { Exchange } from './exchange';
import { FAULT_HEADER, parseFaultHeader, splitModelFault } from './faults';
import { bearerKey, parseJson, pathOf, readBody } from './http-io';
import { errorBody, MODEL_LIST_JSON } from './openai-shapes';
import { faultLabel, invalidKeyResponse, outcomeOf, type FaultContext, type FaultOutcome } from './presets';
import { SimulatorState } from './state';
import type { RunningSimulator, SimulatedFault, SimulatorOptions } from './types';
import { parseConfigPatch, parseFaults, parseKeys } from './validation';

type RespondOutcome = Extract<FaultOutcome, { kind: 'respond' }>;
type ApiRoute = (ex: Exchange, state: SimulatorState, apiKey: string | undefined) => Promise<void>;

const API_ROUTES: Record<string, ApiRoute> = {
  'POST /v1/chat/completions': serveChatCompletion,
  'GET /v1/models': serveModels,
};

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

/** Auth first: a rejected key is a 401 whatever the faults, and consumes none. */
async function serveApi(ex: Exchange, state: SimulatorState, path: string): Promise<void> {
  const apiKey = bearerKey(ex.req);
  ex.call.authorized = state.isAccepted(apiKey);
  if (!ex.call.authorized) {
    ex.sendError(invalidKeyResponse(apiKey));
    return;
  }
  const route = API_ROUTES[`${ex.req.method} ${path}`];
  if (!route) {
    ex.sendJson(404, JSON.stringify(errorBody(`Invalid URL (${ex.req.method} ${path})`, 'invalid_request_error')));
    return;
  }
  await route(ex, state, apiKey);
}

async function serveChatCompletion(ex: Exchange, state: SimulatorState, apiKey: string | undefined): Promise<void> {
  const request = parseChatRequest(parseJson(await readBody(ex.req)));
  ex.call.model = request.model;
  ex.call.stream = request.stream;
  ex.call.completionLimits = request.completionLimits;
  const header = parseFaultHeader(ex.req.headers[FAULT_HEADER]);
  const { model, fault: modelName } = splitModelFault(request.model);
  const fault = state.nextFault({ header, modelName, model });

  await serveWithFault(ex, state, fault, { model, apiKey, stream: request.stream }, async (outcome) => {
    const reply = buildReply(request, model, ex.call.seq, state.config.completionWords);
    if (!request.stream) return sendCompletion(ex, reply, outcome.truncated);
    const intervalMs = outcome.chunkIntervalMs ?? state.config.chunkIntervalMs;
    const { failAfterChunks, errorEvent, truncated } = outcome;
    await streamCompletion(ex, reply, request.includeUsage, { intervalMs, failAfterChunks, errorEvent, truncated });
  });
}

async function serveModels(ex: Exchange, state: SimulatorState, apiKey: string | undefined): Promise<void> {
  const fault = state.nextFault({ header: parseFaultHeader(ex.req.headers[FAULT_HEADER]) });
  await serveWithFault(ex, state, fault, { apiKey, stream: false }, (outcome) =>
    ex.sendJson(200, outcome.truncated ? firstHalfOf(MODEL_LIST_JSON) : MODEL_LIST_JSON),
  );
}

/** Waits the latency, then answers with the fault's outcome or, when it calls for a response, `respond`. */
async function serveWithFault(
  ex: Exchange,
  state: SimulatorState,
  fault: SimulatedFault | undefined,
  ctx: FaultContext,
  respond: (outcome: RespondOutcome) => void | Promise<void>,
): Promise<void> {
  if (fault) ex.call.fault = faultLabel(fault);
  const outcome: FaultOutcome = fault ? outcomeOf(fault, ctx) : { kind: 'respond' };
  await ex.delay(fault?.latencyMs ?? state.config.latencyMs);
  switch (outcome.kind) {
    case 'error':
      return ex.sendError(outcome.response);
    case 'hang':
      return; // left open until the client goes away or close()
    case 'reset':
      return ex.reset();
    case 'respond':
      return respond(outcome);
  }
}
