import { AlertRule, assertValidAlertRules, CONTEXT_POLICIES, ContextPolicy, DEFAULT_ALERT_RULES, ModelInfo, TenantLimits } from '@tollgate/ai';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

/** What `config/models.yaml`, `config/plans.yaml` and `config/alerts.yaml` hold, checked at start-up. */
export interface Catalogs {
  /** The gateway's overrides of the library's default model table: each model listed replaces its default entry whole. */
  models: Record<string, ModelInfo>;
  plans: Record<string, Partial<TenantLimits>>;
  /** The library's defaults when there is no alerts.yaml. */
  alertRules: AlertRule[];
}

const LIMIT_FIELDS = ['requestsPerMinute', 'tokensPerMinute', 'requestsPerDay', 'tokensPerMonth', 'costPerMonthUsd', 'concurrentRequests', 'maxPromptTokens'];
const MODEL_SIZES = ['contextWindow', 'maxOutputTokens', 'fileTokens'];

export function loadCatalogs(configDir: string): Catalogs {
  const models = section(configDir, 'models.yaml', 'models', checkModel);
  checkSiblings(models, join(configDir, 'models.yaml'));
  return { models, plans: section(configDir, 'plans.yaml', 'plans', checkPlan), alertRules: alertRules(configDir) };
}

function alertRules(configDir: string): AlertRule[] {
  const path = join(configDir, 'alerts.yaml');
  if (!existsSync(path)) return [...DEFAULT_ALERT_RULES];
  const rules = (parse(readFileSync(path, 'utf8')) as Record<string, unknown> | null)?.rules;
  if (!Array.isArray(rules)) throw new Error(`${path}: expected a 'rules:' list`);
  try {
    assertValidAlertRules(rules as AlertRule[]);
  } catch (error) {
    throw new Error(`${path}: ${(error as Error).message}`);
  }
  return rules as AlertRule[];
}

function section<T>(configDir: string, file: string, key: string, check: (value: unknown, where: string) => T): Record<string, T> {
  const path = join(configDir, file);
  const document = parse(readFileSync(path, 'utf8')) as Record<string, unknown> | null;
  const entries = document?.[key];
  if (!isRecord(entries)) throw new Error(`${path}: expected a '${key}:' map`);
  // No prototype: a model or plan named `constructor` is one only if the file lists it.
  const checked = Object.create(null) as Record<string, T>;
  for (const [name, value] of Object.entries(entries)) checked[name] = check(value, `${path}: ${key}.${name}`);
  return checked;
}

function checkModel(value: unknown, where: string): ModelInfo {
  if (!isRecord(value)) throw new Error(`${where}: expected a map`);
  for (const field of ['inputPerMillionUsd', 'outputPerMillionUsd']) {
    if (!isNonNegative(value[field])) throw new Error(`${where}.${field}: expected a number of 0 or more`);
  }
  if (value.cachedInputPerMillionUsd !== undefined && !(isNonNegative(value.cachedInputPerMillionUsd) && (value.cachedInputPerMillionUsd as number) <= (value.inputPerMillionUsd as number))) {
    // Every prompt token is reserved at the input price: a dearer cached price would overspend the reservation.
    throw new Error(`${where}.cachedInputPerMillionUsd: expected a number from 0 to inputPerMillionUsd`);
  }
  for (const field of MODEL_SIZES) {
    if (value[field] !== undefined && !(Number.isInteger(value[field]) && (value[field] as number) > 0)) {
      throw new Error(`${where}.${field}: expected a whole number above 0`);
    }
  }
  if (value.encoding !== undefined && !['o200k_base', 'cl100k_base'].includes(value.encoding as string)) {
    throw new Error(`${where}.encoding: expected o200k_base or cl100k_base`);
  }
  if (value.audioTokensPerSecond !== undefined && !(isNonNegative(value.audioTokensPerSecond) && (value.audioTokensPerSecond as number) > 0)) {
    throw new Error(`${where}.audioTokensPerSecond: expected a number above 0`);
  }
  if (value.imageTokens !== undefined) checkImageTokens(value.imageTokens, `${where}.imageTokens`);
  return value as unknown as ModelInfo;
}

/** Tiles `{ baseTokens, tileTokens }` or patches `{ patchMultiplier, maxPatches? }`, as OpenAI bills the model's images. */
function checkImageTokens(value: unknown, where: string): void {
  const expected = `${where}: expected { baseTokens, tileTokens } (whole numbers) or { patchMultiplier, maxPatches? } (a number above 0, a whole number)`;
  if (!isRecord(value)) throw new Error(expected);
  const isWhole = (field: unknown) => Number.isInteger(field) && (field as number) >= 0;
  const tiles = Object.keys(value).length === 2 && isWhole(value.baseTokens) && isWhole(value.tileTokens);
  const patches =
    isNonNegative(value.patchMultiplier) && (value.patchMultiplier as number) > 0 && (value.maxPatches === undefined || isWhole(value.maxPatches)) &&
    Object.keys(value).every((field) => field === 'patchMultiplier' || field === 'maxPatches');
  if (!tiles && !patches) throw new Error(expected);
}

/** Every larger-context sibling must itself be a listed model. */
function checkSiblings(models: Record<string, ModelInfo>, path: string): void {
  for (const [name, model] of Object.entries(models)) {
    if (model.largerContextModel !== undefined && !models[model.largerContextModel]) {
      throw new Error(`${path}: models.${name}.largerContextModel: '${model.largerContextModel}' is not a listed model`);
    }
  }
}

function checkPlan(value: unknown, where: string): Partial<TenantLimits> {
  if (!isRecord(value)) throw new Error(`${where}: expected a map`);
  for (const [field, limit] of Object.entries(value)) {
    if (field === 'allowedModels' || field === 'fallbackModels') continue;
    if (field === 'allowUnknownModels' && typeof limit === 'boolean') continue;
    if (field === 'contextPolicy' && CONTEXT_POLICIES.includes(limit as ContextPolicy)) continue;
    if (field === 'contextPolicy') throw new Error(`${where}.contextPolicy: expected one of ${CONTEXT_POLICIES.join(', ')}`);
    if (field === 'defaultCompletionTokens' && (limit === null || (Number.isInteger(limit) && (limit as number) > 0))) continue;
    if (field === 'defaultCompletionTokens') throw new Error(`${where}.defaultCompletionTokens: expected a whole number above 0, or null`);
    if (!LIMIT_FIELDS.includes(field)) throw new Error(`${where}.${field}: unknown limit (known: ${LIMIT_FIELDS.join(', ')})`);
    if (limit !== null && !isNonNegative(limit)) throw new Error(`${where}.${field}: expected a number of 0 or more, or null`);
  }
  return value as Partial<TenantLimits>;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isNonNegative(value: unknown): boolean {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}
