import type { ErrorPreset } from './presets';
import type { Route } from './routes';
import type { SimulatorCall } from './types';

export const AZURE_PREFIX = '/openai/';

/** Azure's error body, which is not OpenAI's: a string code and a message, nothing else. */
export interface AzureErrorResponse {
  status: number;
  body: { error: { code: string; message: string } };
}

const azureError = (status: number, code: string, message: string): AzureErrorResponse => ({ status, body: { error: { code, message } } });

export const AZURE_NOT_FOUND = azureError(404, '404', 'Resource not found');

const DEPLOYMENT_PATH = /^\/openai\/deployments\/([^/]+)\/(chat\/completions|embeddings)$/;

/** The classic paths, which want an api-version: /openai/deployments/{deployment}/… and /openai/responses. */
export function azureClassicRoute(method: string, path: string): Route | undefined {
  if (method !== 'POST') return undefined;
  if (path === '/openai/responses') return { endpoint: 'responses', needsApiVersion: true };
  const match = DEPLOYMENT_PATH.exec(path);
  if (!match) return undefined;
  const endpoint = match[2] === 'embeddings' ? 'embeddings' : 'chat.completions';
  return { endpoint, deployment: decodeURIComponent(match[1]), needsApiVersion: true };
}

const API_VERSION = /^\d{4}-\d{2}-\d{2}(-preview)?$/;

/** Azure routes by api-version: without one the path is not found; one it does not know is a 400. */
export function apiVersionError(apiVersion: string | undefined): AzureErrorResponse | undefined {
  if (apiVersion === undefined) return AZURE_NOT_FOUND;
  return API_VERSION.test(apiVersion) ? undefined : azureError(400, 'BadRequest', 'API version not supported');
}

export function azureInvalidKey(apiKey: string | undefined): AzureErrorResponse {
  return apiKey === undefined
    ? azureError(401, '401', 'Access denied due to missing subscription key. Make sure to include subscription key when making requests to an API.')
    : azureError(
        401,
        '401',
        'Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active ' +
          'subscription and use a correct regional API endpoint for your resource.',
      );
}

/** Azure's request ids: UUIDs, made of the call's seq so that they are deterministic. */
export function azureHeaders(call: SimulatorCall): Record<string, string> {
  const id = `00000000-0000-4000-8000-${call.seq.toString(16).padStart(12, '0')}`;
  return { 'x-ms-request-id': id, 'apim-request-id': id };
}

const filtered = (severity: string) => ({ filtered: severity !== 'safe', severity });

// As Azure sends it: OpenAI's four fields (type null), the status again, and which filter caught what.
export const AZURE_CONTENT_FILTER: ErrorPreset = {
  status: 400,
  type: null,
  code: 'content_filter',
  param: 'prompt',
  message: () =>
    "The response was filtered due to the prompt triggering Azure OpenAI's content management policy. Please modify your " +
    'prompt and retry. To learn more about our content filtering policies please read our documentation: ' +
    'https://go.microsoft.com/fwlink/?linkid=2198766',
  extraFields: {
    status: 400,
    innererror: {
      code: 'ResponsibleAIPolicyViolation',
      content_filter_result: {
        hate: filtered('safe'),
        jailbreak: { filtered: false, detected: false },
        self_harm: filtered('safe'),
        sexual: filtered('safe'),
        violence: filtered('medium'),
      },
    },
  },
};
