import { ExpectedAccount, resolveUpstreamPool, SecretProvider, UPSTREAM_KINDS, UpstreamKind } from '@tollgate/ai';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { SecretSource } from './gateway-config';

export const UPSTREAMS_FILE = 'upstreams.yaml';

/** One key of `config/upstreams.yaml`, its secret's source checked (an `env` secret already read). */
export interface UpstreamFileKey {
  name?: string;
  secret: SecretSource;
  weight?: number;
  expect?: ExpectedAccount;
}

export interface UpstreamFileEntry {
  name: string;
  kind: UpstreamKind;
  baseURL: string;
  deployments?: Record<string, string>;
  apiVersion?: string;
  organization?: string;
  keys: UpstreamFileKey[];
}

/** What `config/upstreams.yaml` holds, checked at start-up. */
export interface UpstreamsFile {
  path: string;
  upstreams: UpstreamFileEntry[];
  routes?: Record<string, string[]>;
}

export function hasUpstreamsFile(configDir: string): boolean {
  return existsSync(join(configDir, UPSTREAMS_FILE));
}

/**
 * Reads and checks `upstreams.yaml` when there is one (undefined otherwise: the one upstream of OPENAI_BASE_URL).
 * Every error names the file and the entry, never a secret's value; an `env` secret is read from `env` here.
 */
export function loadUpstreamsFile(configDir: string, env: Record<string, string | undefined>): UpstreamsFile | undefined {
  const path = join(configDir, UPSTREAMS_FILE);
  if (!existsSync(path)) return undefined;
  try {
    const document = parse(readFileSync(path, 'utf8')) as unknown;
    if (!isRecord(document) || !Array.isArray(document.upstreams)) throw new Error("expected an 'upstreams:' list");
    const upstreams = document.upstreams.map((entry, index) => upstreamEntry(entry, `upstreams[${index}]`, env));
    const routes = document.routes === undefined ? undefined : routesOf(document.routes);
    // The pool's own checks (unique names, known routes, weights): the library's, run now so that the error names the file.
    resolveUpstreamPool(
      upstreams.map((upstream) => ({ ...upstream, keys: upstream.keys.map((key) => ({ ...key, secretProvider: UNREAD })) })),
      routes,
    );
    return { path, upstreams, routes };
  } catch (error) {
    throw new Error(`${path}: ${(error as Error).message}`);
  }
}

/** Stands in for a key while the file is checked: nothing is read. */
const UNREAD: SecretProvider = { description: 'not read while checking', read: () => Promise.reject(new Error('not read')) };

const ENTRY_FIELDS = ['name', 'kind', 'baseUrl', 'deployments', 'apiVersion', 'organization', 'keys'];
const KEY_FIELDS = ['name', 'secret', 'weight', 'expect'];

function upstreamEntry(entry: unknown, where: string, env: Record<string, string | undefined>): UpstreamFileEntry {
  if (!isRecord(entry)) throw new Error(`${where}: expected a map`);
  const at = typeof entry.name === 'string' ? `${where} (${entry.name})` : where;
  onlyFields(entry, ENTRY_FIELDS, at);
  const { name, kind = 'openai', baseUrl, deployments, apiVersion, organization, keys } = entry;
  if (typeof name !== 'string') throw new Error(`${where}.name: expected a name`);
  if (!UPSTREAM_KINDS.includes(kind as UpstreamKind)) throw new Error(`${at}.kind: expected one of ${UPSTREAM_KINDS.join(', ')}`);
  if (typeof baseUrl !== 'string') throw new Error(`${at}.baseUrl: expected a URL`);
  if (deployments !== undefined && !isStringMap(deployments)) throw new Error(`${at}.deployments: expected a map of model names to deployment names`);
  if (apiVersion !== undefined && typeof apiVersion !== 'string') throw new Error(`${at}.apiVersion: expected a string such as 2024-10-21 (quote it)`);
  if (organization !== undefined && typeof organization !== 'string') throw new Error(`${at}.organization: expected a string`);
  if (!Array.isArray(keys) || keys.length === 0) throw new Error(`${at}.keys: expected at least one key`);
  return {
    name,
    kind: kind as UpstreamKind,
    baseURL: baseUrl,
    deployments: deployments as Record<string, string> | undefined,
    apiVersion: apiVersion as string | undefined,
    organization: organization as string | undefined,
    keys: keys.map((key, index) => keyEntry(key, `${at}.keys[${index}]`, env)),
  };
}

function keyEntry(key: unknown, where: string, env: Record<string, string | undefined>): UpstreamFileKey {
  if (!isRecord(key)) throw new Error(`${where}: expected a map`);
  onlyFields(key, KEY_FIELDS, where);
  const { name, secret, weight, expect } = key;
  if (name !== undefined && typeof name !== 'string') throw new Error(`${where}.name: expected a string`);
  if (weight !== undefined && typeof weight !== 'number') throw new Error(`${where}.weight: expected a number above 0`);
  if (expect !== undefined && !(isStringMap(expect) && Object.keys(expect).every((field) => field === 'organization' || field === 'project'))) {
    throw new Error(`${where}.expect: expected { organization?, project? }`);
  }
  return { name: name as string | undefined, secret: secretSource(secret, `${where}.secret`, env), weight: weight as number | undefined, expect: expect as ExpectedAccount | undefined };
}

/** `{ provider: env, name }`, `{ provider: file, path }`, `{ provider: aws, secretId, region, jsonKey?, endpoint? }` or `{ provider: azure, vaultUrl, secretName }`. */
function secretSource(secret: unknown, where: string, env: Record<string, string | undefined>): SecretSource {
  if (!isRecord(secret) || !isStringMap(secret)) throw new Error(`${where}: expected { provider, … } with string values`);
  const field = (name: string, required = true): string | undefined => {
    if (required && !secret[name]) throw new Error(`${where}.${name}: required with provider ${secret.provider}`);
    return secret[name];
  };
  switch (secret.provider) {
    case 'env': {
      const variable = field('name')!;
      const apiKey = env[variable]?.trim();
      if (!apiKey) throw new Error(`${where}: the environment variable ${variable} is not set`);
      return { provider: 'env', apiKey };
    }
    case 'file':
      return { provider: 'file', path: field('path')! };
    case 'aws':
      return { provider: 'aws', secretId: field('secretId')!, region: field('region')!, jsonKey: field('jsonKey', false), endpoint: field('endpoint', false) };
    case 'azure':
      return { provider: 'azure', vaultUrl: field('vaultUrl')!, secretName: field('secretName')! };
    default:
      throw new Error(`${where}.provider: expected env, file, aws or azure`);
  }
}

function routesOf(routes: unknown): Record<string, string[]> {
  if (!isRecord(routes)) throw new Error("routes: expected a map of model names to lists of upstream names");
  for (const [model, route] of Object.entries(routes)) {
    if (!Array.isArray(route) || !route.every((name) => typeof name === 'string')) throw new Error(`routes.${model}: expected a list of upstream names`);
  }
  return routes as Record<string, string[]>;
}

function onlyFields(entry: Record<string, unknown>, known: string[], where: string): void {
  const unknown = Object.keys(entry).find((field) => !known.includes(field));
  if (unknown !== undefined) throw new Error(`${where}.${unknown}: not a known field (known: ${known.join(', ')})`);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isStringMap(value: unknown): value is Record<string, string> {
  return isRecord(value) && Object.values(value).every((each) => typeof each === 'string');
}
