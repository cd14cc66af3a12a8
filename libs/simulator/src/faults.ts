import { isFaultPreset } from './presets';
import type { FaultPreset, SimulatedFault } from './types';
import { InvalidInput, parseFault } from './validation';

export const FAULT_HEADER = 'x-simulator-fault';
const MODEL_FAULT_MARKER = ':fault=';

/** `x-simulator-fault: <preset>` or `x-simulator-fault: <SimulatedFault JSON>`. */
export function parseFaultHeader(value: string | string[] | undefined): SimulatedFault | undefined {
  if (value === undefined) return undefined;
  const text = (Array.isArray(value) ? value[0] : value).trim();
  if (!text.startsWith('{')) return { preset: presetNamed(text, FAULT_HEADER) };
  try {
    return parseFault(JSON.parse(text), FAULT_HEADER);
  } catch (error) {
    if (error instanceof InvalidInput) throw error;
    throw new InvalidInput(`${FAULT_HEADER}: not valid JSON`);
  }
}

/** `gpt-4o-mini:fault=insufficient_quota` → the model `gpt-4o-mini` and that preset. */
export function splitModelFault(requested: string): { model: string; fault?: SimulatedFault } {
  const at = requested.indexOf(MODEL_FAULT_MARKER);
  if (at < 0) return { model: requested };
  const preset = presetNamed(requested.slice(at + MODEL_FAULT_MARKER.length), 'model');
  return { model: requested.slice(0, at), fault: { preset } };
}

function presetNamed(name: string, source: string): FaultPreset {
  if (!isFaultPreset(name)) throw new InvalidInput(`${source}: unknown simulator fault preset '${name}'`);
  return name;
}

interface QueuedFault {
  fault: SimulatedFault;
  remaining: number;
}

/** Faults waiting for calls, first in first out; a fault with `match.model` waits for a call for that model. */
export class FaultQueue {
  private queued: QueuedFault[] = [];

  enqueue(faults: readonly SimulatedFault[]): void {
    for (const fault of faults) this.queued.push({ fault, remaining: fault.times ?? 1 });
  }

  /** Consumes one use of the oldest fault matching a call for `model` (undefined for calls without a model). */
  take(model: string | undefined): SimulatedFault | undefined {
    const index = this.queued.findIndex(({ fault }) => fault.match?.model === undefined || fault.match.model === model);
    if (index < 0) return undefined;
    const entry = this.queued[index];
    entry.remaining -= 1;
    if (entry.remaining === 0) this.queued.splice(index, 1);
    return entry.fault;
  }

  clear(): void {
    this.queued = [];
  }
}

/** mulberry32: a tiny seeded PRNG, so a load test's faults are the same from run to run. */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class RandomFaults {
  private readonly random: () => number;

  constructor(seed: number) {
    this.random = mulberry32(seed);
  }

  /** A fault for `rate` of the calls, its preset drawn from `presets`. */
  draw(rate: number, presets: readonly FaultPreset[]): SimulatedFault | undefined {
    if (rate <= 0 || presets.length === 0 || this.random() >= rate) return undefined;
    return { preset: presets[Math.floor(this.random() * presets.length)] };
  }
}
