import { isFaultPreset } from './presets';
import type { AcceptedKey, SimulatedFault, SimulatorConfig } from './types';

/** Input the simulator refuses; answered as a 400 with OpenAI's error body. */
export class InvalidInput extends Error {
  constructor(
    message: string,
    readonly param: string | null = null,
    readonly code: string | null = null,
  ) {
    super(message);
  }
}

type Rule = readonly [check: (value: unknown) => boolean, expected: string];

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const isString = (value: unknown): value is string => typeof value === 'string';
const isNonNegative = (value: unknown) => typeof value === 'number' && Number.isFinite(value) && value >= 0;
const isCount = (min: number) => (value: unknown) => Number.isInteger(value) && (value as number) >= min;
const isRecordOf = (check: (value: unknown) => boolean) => (value: unknown) =>
  isRecord(value) && Object.values(value).every(check);

const string: Rule = [isString, 'a string'];
const duration: Rule = [isNonNegative, 'a non-negative number'];

const FAULT_RULES: Record<keyof SimulatedFault, Rule> = {
  preset: [isFaultPreset, 'a fault preset'],
  status: [(v) => isCount(400)(v) && (v as number) <= 599, 'an HTTP error status (400-599)'],
  code: string,
  type: string,
  message: string,
  param: [(v) => v === null || isString(v), 'a string or null'],
  retryAfter: string,
  retryAfterMs: duration,
  headers: [isRecordOf(isString), 'an object of string values'],
  latencyMs: duration,
  chunkIntervalMs: duration,
  failAfterChunks: [isCount(0), 'a non-negative integer'],
  match: [(v) => isRecord(v) && Object.entries(v).every(([k, m]) => k === 'model' && isString(m)), '{ model?: string }'],
  times: [isCount(1), 'a positive integer'],
};

const CONFIG_RULES: Record<keyof SimulatorConfig, Rule> = {
  latencyMs: duration,
  chunkIntervalMs: duration,
  randomFaultRate: [(v) => isNonNegative(v) && (v as number) <= 1, 'a number between 0 and 1'],
  randomFaults: [(v) => Array.isArray(v) && v.every(isFaultPreset), 'an array of fault presets'],
  completionWords: [isCount(0), 'a non-negative integer'],
  cachedPromptTokens: [(v) => isNonNegative(v) && (Number.isInteger(v) || (v as number) < 1), 'a non-negative integer or a fraction below 1'],
};

const KEY_RULES: Record<keyof AcceptedKey, Rule> = {
  key: [(v) => isString(v) && v !== '', 'a non-empty string'],
  label: string,
  organization: string,
  project: string,
};

/** Checks every field against its rule, refusing unknown ones (typos would otherwise pass silently). */
function checkFields<T>(value: unknown, rules: Record<keyof T, Rule>, what: string): T {
  if (!isRecord(value)) throw new InvalidInput(`${what} must be a JSON object`);
  const result: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(value)) {
    if (field === undefined) continue;
    const rule = (rules as Record<string, Rule | undefined>)[key];
    if (!rule) throw new InvalidInput(`${what}: unknown field '${key}'`);
    if (!rule[0](field)) throw new InvalidInput(`${what}: '${key}' must be ${rule[1]}`);
    result[key] = field;
  }
  return structuredClone(result) as T;
}

export function parseFault(value: unknown, what = 'fault'): SimulatedFault {
  return checkFields<SimulatedFault>(value, FAULT_RULES, what);
}

export function parseFaults(value: unknown): SimulatedFault[] {
  if (!Array.isArray(value)) throw new InvalidInput('faults must be an array');
  return value.map((fault, i) => parseFault(fault, `faults[${i}]`));
}

export function parseConfigPatch(value: unknown): Partial<SimulatorConfig> {
  return checkFields<Partial<SimulatorConfig>>(value, CONFIG_RULES, 'config');
}

/** Keys as strings or `{ key, label?, organization?, project? }`, each made an entry. */
export function parseKeys(value: unknown): AcceptedKey[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) throw new InvalidInput('acceptedKeys must be an array of keys or null');
  return value.map((entry, i) => (isString(entry) ? { key: entry } : parseKeyEntry(entry, `acceptedKeys[${i}]`)));
}

function parseKeyEntry(value: unknown, what: string): AcceptedKey {
  const entry = checkFields<Partial<AcceptedKey>>(value, KEY_RULES, what);
  if (entry.key === undefined) throw new InvalidInput(`${what}: 'key' is required`);
  return entry as AcceptedKey;
}
