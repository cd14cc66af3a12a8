import type { ApiContext } from './api-context';
import { apiVersionError, AZURE_NOT_FOUND, azureInvalidKey, type AzureErrorResponse } from './azure';
import { serveChatCompletion } from './chat-completions';
import { serveEmbeddings } from './embeddings';
import type { Exchange } from './exchange';
import { presentedKey, queryParam } from './http-io';
import { serveModel, serveModels } from './models';
import { errorBody } from './openai-shapes';
import { invalidKeyResponse } from './presets';
import { serveResponse } from './responses';
import { routeOf } from './routes';
import type { SimulatorState } from './state';
import type { Endpoint } from './types';

const ENDPOINT_HANDLERS: Readonly<Record<Endpoint, (ctx: ApiContext) => Promise<void>>> = {
  'chat.completions': serveChatCompletion,
  embeddings: serveEmbeddings,
  responses: serveResponse,
  'models.list': serveModels,
  'models.retrieve': serveModel,
};

/** Auth first: a rejected key is a 401 whatever the path or the faults, and consumes none. */
export async function serveApi(ex: Exchange, state: SimulatorState, path: string): Promise<void> {
  const { call, req } = ex;
  const presented = presentedKey(req);
  const identity = state.identify(presented?.key);
  call.authorized = identity.accepted;
  call.organization = identity.organization;
  call.project = identity.project;
  if (presented) {
    call.auth = presented.auth;
    call.keyLabel = identity.label;
  }
  const apiVersion = queryParam(req.url, 'api-version');
  if (apiVersion !== undefined) call.apiVersion = apiVersion;
  if (!identity.accepted) return sendInvalidKey(ex, presented?.key);

  const route = routeOf(req.method ?? 'GET', path);
  if (!route) return sendNotFound(ex, path);
  call.endpoint = route.endpoint;
  if (route.deployment !== undefined) call.deployment = route.deployment;
  const versionError = route.needsApiVersion ? apiVersionError(apiVersion) : undefined;
  if (versionError) return sendAzureError(ex, versionError);
  await ENDPOINT_HANDLERS[route.endpoint]({ ex, state, route, apiKey: presented?.key, organization: identity.organization });
}

function sendInvalidKey(ex: Exchange, apiKey: string | undefined): void {
  if (ex.call.api === 'azure') return sendAzureError(ex, azureInvalidKey(apiKey));
  ex.sendError(invalidKeyResponse(apiKey));
}

function sendNotFound(ex: Exchange, path: string): void {
  if (ex.call.api === 'azure') return sendAzureError(ex, AZURE_NOT_FOUND);
  ex.sendJson(404, JSON.stringify(errorBody(`Invalid URL (${ex.req.method} ${path})`, 'invalid_request_error')));
}

function sendAzureError(ex: Exchange, { status, body }: AzureErrorResponse): void {
  ex.sendJson(status, JSON.stringify(body));
}
