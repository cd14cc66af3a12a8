import { AZURE_PREFIX } from './azure';
import { FaultQueue, RandomFaults } from './faults';
import { DEFAULT_ORGANIZATION, DEFAULT_PROJECT, KeyRing, type KeyIdentity } from './keys';
import type { AcceptedKey, SimulatedFault, SimulatorCall, SimulatorConfig } from './types';

function defaultConfig(): SimulatorConfig {
  return {
    latencyMs: 0,
    chunkIntervalMs: 0,
    randomFaultRate: 0,
    randomFaults: ['server_error', 'overloaded', 'rate_limit_exceeded'],
    completionWords: 12,
    cachedPromptTokens: 0,
  };
}

/**
 * Past this many recorded calls the oldest are dropped, so a long benchmark does not grow the
 * log without bound; trimmed in batches to keep recording O(1) amortised.
 */
const MAX_RECORDED_CALLS = 50_000;

export interface StateOptions {
  acceptedKeys?: readonly AcceptedKey[];
  seed: number;
  /** Queued at the start and again on every reset. */
  faults: readonly SimulatedFault[];
}

/** Where a call's fault may come from, highest precedence first. */
export interface FaultSources {
  header?: SimulatedFault;
  modelName?: SimulatedFault;
  /** The model the queue matches against; undefined for calls without one. */
  model?: string;
}

/** Everything the simulator remembers: config, keys, faults, calls. Shared by the API and the control endpoints. */
export class SimulatorState {
  config: SimulatorConfig = defaultConfig();
  shuttingDown = false;
  private keys: KeyRing;
  private readonly queue = new FaultQueue();
  private random: RandomFaults;
  private log: SimulatorCall[] = [];
  private seq = 0;

  constructor(private readonly options: StateOptions) {
    this.keys = new KeyRing(options.acceptedKeys);
    this.random = new RandomFaults(options.seed);
    this.queue.enqueue(options.faults);
  }

  identify(key: string | undefined): KeyIdentity {
    return this.keys.identify(key);
  }

  setAcceptedKeys(keys: readonly AcceptedKey[] | undefined): void {
    this.keys = new KeyRing(keys);
  }

  enqueueFaults(faults: readonly SimulatedFault[]): void {
    this.queue.enqueue(faults);
  }

  configure(patch: Partial<SimulatorConfig>): void {
    this.config = { ...this.config, ...patch };
  }

  /** Precedence: header, model name, queue, random. */
  nextFault({ header, modelName, model }: FaultSources): SimulatedFault | undefined {
    return (
      header ?? modelName ?? this.queue.take(model) ?? this.random.draw(this.config.randomFaultRate, this.config.randomFaults)
    );
  }

  recordCall(method: string, path: string): SimulatorCall {
    this.seq += 1;
    const call: SimulatorCall = {
      seq: this.seq,
      method,
      path,
      api: path.startsWith(AZURE_PREFIX) ? 'azure' : 'openai',
      stream: false,
      receivedAt: Date.now(),
      aborted: false,
      authorized: true,
      organization: DEFAULT_ORGANIZATION,
      project: DEFAULT_PROJECT,
    };
    this.log.push(call);
    if (this.log.length >= 2 * MAX_RECORDED_CALLS) this.log = this.log.slice(-MAX_RECORDED_CALLS);
    return call;
  }

  calls(): SimulatorCall[] {
    return this.log.map((call) => ({ ...call }));
  }

  /** Back to a fresh simulator: sequence numbers restart at 1, the start faults are queued again and the random faults replay from the seed. */
  reset(): void {
    this.config = defaultConfig();
    this.keys = new KeyRing(this.options.acceptedKeys);
    this.queue.clear();
    this.queue.enqueue(this.options.faults);
    this.random = new RandomFaults(this.options.seed);
    this.log = [];
    this.seq = 0;
  }
}
