import { SecretProvider, StaticSecretProvider } from '../secrets/secret-provider';

/** `openai`: OpenAI itself. `azure`: Azure OpenAI (`api-key` header; its v1 path, or deployments and `api-version`). `openai-compatible`: any other host speaking OpenAI's API. */
export type UpstreamKind = 'openai' | 'azure' | 'openai-compatible';

export const UPSTREAM_KINDS: readonly UpstreamKind[] = ['openai', 'azure', 'openai-compatible'];

/** The organization and project a key must answer for: OpenAI names them in `openai-organization` and `openai-project`. */
export interface ExpectedAccount {
  organization?: string;
  project?: string;
}

/** One key of an upstream. */
export interface UpstreamKeyOptions {
  /** In logs, metrics and /admin/upstream, never the key itself. @default 'key-1', 'key-2'… in order */
  name?: string;
  /** A fixed key. Give this or `secretProvider`. */
  apiKey?: string;
  /** Where the key is read from, so that it can rotate without a restart. */
  secretProvider?: SecretProvider;
  /** Its share of the upstream's calls against the other keys' weights. @default 1 */
  weight?: number;
  /** The wrong-key guard: a key that answers for another organization or project is taken out at once. @default undefined */
  expect?: ExpectedAccount;
}

/** One upstream of the pool. */
export interface PoolUpstreamOptions {
  /** Unique; in metrics, logs, /admin/upstream and the `x-tollgate-upstream` header. */
  name: string;
  /** @default 'openai' */
  kind?: UpstreamKind;
  /** e.g. `https://api.openai.com/v1`, `https://my-resource.openai.azure.com/openai/v1` (Azure's v1 API) or `https://my-resource.openai.azure.com/openai` (its deployments). */
  baseURL: string;
  /** Azure: the deployment that serves each model (a model not listed is served by a deployment of its name). */
  deployments?: Record<string, string>;
  /** Azure's deployments API, at `{baseURL}/deployments/{deployment}/…?api-version=`; without it, Azure's v1 API. */
  apiVersion?: string;
  /** Sent as `OpenAI-Organization` when set. */
  organization?: string;
  keys: UpstreamKeyOptions[];
}

export interface ResolvedUpstreamKey {
  name: string;
  secretProvider: SecretProvider;
  weight: number;
  expect?: ExpectedAccount;
}

/** Where calls to one upstream go and how they are written: what the transport needs of it. */
export interface UpstreamEndpoint {
  readonly name: string;
  readonly kind: UpstreamKind;
  readonly baseURL: string;
  readonly deployments?: Record<string, string>;
  readonly apiVersion?: string;
  readonly organization?: string;
}

export interface ResolvedUpstream extends UpstreamEndpoint {
  readonly keys: ResolvedUpstreamKey[];
}

export interface UpstreamPoolOptions {
  upstreams: ResolvedUpstream[];
  /** The upstreams that serve each model, in the order they are tried; a model not listed is served by every upstream in order. */
  routes: Record<string, string[]>;
}

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Checks the pool as a whole and fills in its defaults; every error names the entry it is about. */
export function resolveUpstreamPool(upstreams: PoolUpstreamOptions[], routes: Record<string, string[]> = {}): UpstreamPoolOptions {
  if (!Array.isArray(upstreams) || upstreams.length === 0) throw new Error('upstreams: expected at least one upstream');
  const resolved = upstreams.map((upstream, index) => resolveUpstream(upstream, `upstreams[${index}]`));
  const names = new Set<string>();
  for (const { name } of resolved) {
    if (names.has(name)) throw new Error(`upstreams: the name '${name}' is used twice`);
    names.add(name);
  }
  const checkedRoutes = Object.create(null) as Record<string, string[]>;
  for (const [model, route] of Object.entries(routes)) {
    if (!Array.isArray(route) || route.length === 0) throw new Error(`routes.${model}: expected a list of upstream names`);
    const unknown = route.find((name) => !names.has(name));
    if (unknown !== undefined) throw new Error(`routes.${model}: no upstream is named '${unknown}' (known: ${[...names].join(', ')})`);
    checkedRoutes[model] = [...new Set(route)];
  }
  return { upstreams: resolved, routes: checkedRoutes };
}

function resolveUpstream(upstream: PoolUpstreamOptions, where: string): ResolvedUpstream {
  const { name, kind = 'openai', baseURL, deployments, apiVersion, organization, keys } = upstream;
  if (typeof name !== 'string' || !NAME_PATTERN.test(name)) {
    throw new Error(`${where}.name: expected 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit`);
  }
  const at = `${where} (${name})`;
  if (!UPSTREAM_KINDS.includes(kind)) throw new Error(`${at}.kind: expected one of ${UPSTREAM_KINDS.join(', ')}`);
  if (!isHttpUrl(baseURL)) throw new Error(`${at}.baseUrl: expected an http(s) URL`);
  if (kind !== 'azure' && (deployments !== undefined || apiVersion !== undefined)) {
    throw new Error(`${at}: deployments and apiVersion are Azure's; this upstream is of kind ${kind}`);
  }
  if (!Array.isArray(keys) || keys.length === 0) throw new Error(`${at}.keys: expected at least one key`);
  const resolvedKeys = keys.map((key, index) => resolveKey(key, index, `${at}.keys[${index}]`));
  const keyNames = new Set(resolvedKeys.map((key) => key.name));
  if (keyNames.size < resolvedKeys.length) throw new Error(`${at}.keys: two keys have the same name`);
  return { name, kind, baseURL, deployments, apiVersion, organization, keys: resolvedKeys };
}

function resolveKey(key: UpstreamKeyOptions, index: number, where: string): ResolvedUpstreamKey {
  const { name = `key-${index + 1}`, weight = 1, expect } = key;
  if (!NAME_PATTERN.test(name)) throw new Error(`${where}.name: expected 1 to 64 letters, digits, '.', '_' or '-'`);
  if (!(typeof weight === 'number' && Number.isFinite(weight) && weight > 0)) throw new Error(`${where}.weight: expected a number above 0`);
  const secretProvider = key.secretProvider ?? (key.apiKey !== undefined ? new StaticSecretProvider(key.apiKey) : undefined);
  if (!secretProvider) throw new Error(`${where}: give it an apiKey or a secretProvider`);
  return { name, secretProvider, weight, expect };
}

function isHttpUrl(value: unknown): boolean {
  if (typeof value !== 'string') return false;
  try {
    return ['http:', 'https:'].includes(new URL(value).protocol);
  } catch {
    return false;
  }
}
