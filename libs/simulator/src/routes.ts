import { azureClassicRoute } from './azure';
import type { Endpoint } from './types';

/** What a path asks for. */
export interface Route {
  endpoint: Endpoint;
  /** models.retrieve: the id in the path. */
  modelId?: string;
  /** Azure's deployment paths: the deployment, which stands for the model. */
  deployment?: string;
  /** Azure's classic paths want an `api-version` query; OpenAI's and Azure's v1 paths do not. */
  needsApiVersion: boolean;
}

const ENDPOINTS: Readonly<Record<string, Endpoint>> = {
  'POST chat/completions': 'chat.completions',
  'POST embeddings': 'embeddings',
  'POST responses': 'responses',
  'GET models': 'models.list',
};

/** OpenAI's paths and Azure's v1 API, which serves the same ones under /openai/v1. */
const V1_PREFIXES = ['/v1/', '/openai/v1/'];
const MODEL_PATH = /^models\/([^/]+)$/;

export function routeOf(method: string, path: string): Route | undefined {
  const prefix = V1_PREFIXES.find((candidate) => path.startsWith(candidate));
  if (prefix === undefined) return azureClassicRoute(method, path);
  const rest = path.slice(prefix.length);
  const modelId = method === 'GET' ? MODEL_PATH.exec(rest)?.[1] : undefined;
  if (modelId !== undefined) return { endpoint: 'models.retrieve', modelId: decodeURIComponent(modelId), needsApiVersion: false };
  const endpoint = ENDPOINTS[`${method} ${rest}`];
  return endpoint && { endpoint, needsApiVersion: false };
}
