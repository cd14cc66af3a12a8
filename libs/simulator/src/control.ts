import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseJson, readBody, sendJson } from './http-io';
import { errorBody } from './openai-shapes';
import type { SimulatorState } from './state';
import { InvalidInput, isRecord, parseConfigPatch, parseFaults, parseKeys } from './validation';

export const CONTROL_PREFIX = '/_simulator/';

/** A JSON body to send, or undefined for 204 No Content. */
type ControlRoute = (state: SimulatorState, body: unknown) => object | undefined;

const CONTROL_ROUTES: Record<string, ControlRoute> = {
  'POST /_simulator/faults': (state, body) => {
    state.enqueueFaults(parseFaults(fieldOf(body, 'faults')));
    return undefined;
  },
  'GET /_simulator/config': (state) => state.config,
  'PUT /_simulator/config': (state, body) => {
    state.configure(parseConfigPatch(body));
    return state.config;
  },
  'PUT /_simulator/keys': (state, body) => {
    state.setAcceptedKeys(parseKeys(fieldOf(body, 'acceptedKeys')));
    return undefined;
  },
  'GET /_simulator/calls': (state) => {
    const calls = state.calls();
    return { count: calls.length, calls };
  },
  'POST /_simulator/reset': (state) => {
    state.reset();
    return undefined;
  },
};

/** The control endpoints, for tests and tools outside the process; their calls are not recorded. */
export async function handleControl(state: SimulatorState, req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
  const route = CONTROL_ROUTES[`${req.method} ${path}`];
  if (!route) {
    sendJson(res, 404, JSON.stringify(errorBody(`Invalid URL (${req.method} ${path})`, 'invalid_request_error')));
    return;
  }
  try {
    const text = await readBody(req);
    const result = route(state, text === '' ? undefined : parseJson(text));
    if (result === undefined) res.writeHead(204).end();
    else sendJson(res, 200, JSON.stringify(result));
  } catch (error) {
    if (!(error instanceof InvalidInput)) throw error;
    sendJson(res, 400, JSON.stringify(errorBody(error.message, 'invalid_request_error')));
  }
}

function fieldOf(body: unknown, field: string): unknown {
  if (!isRecord(body) || !(field in body)) throw new InvalidInput(`The body must be a JSON object with '${field}'`);
  return body[field];
}
