import { Logger } from '@nestjs/common';
import { SecretOptions } from '../ai-module-options';
import { Clock } from '../common/clock';
import { Listeners } from '../common/listeners';
import { fingerprintOf, SecretProvider, SecretUnavailableError } from './secret-provider';

interface LoadedKey {
  value: string;
  version: string;
  fingerprint: string;
  loadedAt: number;
}

/** What may be shown of the key anywhere: its provider, version and fingerprint, and how reading it goes. */
export interface UpstreamKeyStatus {
  provider: string;
  version: string;
  fingerprint: string;
  loadedAt: string;
  /** The key replaced by the last rotation, still tried once when the new one is refused. */
  previous?: { version: string; fingerprint: string };
  lastRefreshAt?: string;
  /** The last failed read, while the last good key keeps serving. */
  lastError?: { failure: string; message: string; at: string };
  refreshes: number;
  failures: number;
}

export type RefreshOutcome = 'rotated' | 'unchanged' | 'failed';

/**
 * One upstream key (UpstreamPool holds one per key): read at start-up, re-read in the background before its TTL runs out (and
 * when a watched file changes), re-read once on demand when the upstream refuses it — a single
 * read however many requests are refused at once. A failed read keeps the last good key.
 */
export class UpstreamKeyManager {
  private readonly logger: Logger;
  private key?: LoadedKey;
  private previous?: LoadedKey;
  private refreshing?: Promise<RefreshOutcome>;
  private timer?: NodeJS.Timeout;
  private stopWatching?: () => void;
  private lastRefreshAt?: number;
  private lastError?: { failure: string; message: string; at: number };
  private refreshes = 0;
  private failures = 0;
  private readonly refreshed: Listeners<RefreshOutcome>;

  /** @param label names the key in log lines, when there is more than one (`openai-main/project-a`) */
  constructor(
    private readonly provider: SecretProvider,
    private readonly clock: Clock,
    private readonly secrets: SecretOptions,
    label?: string,
  ) {
    this.logger = new Logger(label ? `UpstreamKey ${label}` : 'UpstreamKey');
    this.refreshed = new Listeners<RefreshOutcome>(this.logger);
  }

  /** The current and the previous key: what must never appear in a log line or a response. */
  values(): (string | undefined)[] {
    return [this.key?.value, this.previous?.value];
  }

  /** Reads the key once; start-up fails here, naming the provider and the secret, when it cannot. */
  async load(): Promise<void> {
    const { value, version } = await this.provider.read();
    this.key = this.loaded(value, version);
    this.logger.log(`Upstream key loaded from ${this.provider.description}: version ${version}, fingerprint ${this.key.fingerprint}`);
    if (!this.provider.fixed) {
      // Ahead of expiry: a read that fails once still leaves time for the next before the TTL is out.
      this.timer = setInterval(() => void this.refresh(), this.secrets.ttlMs * 0.8);
      this.timer.unref();
    }
    this.stopWatching = this.provider.watch?.(() => void this.refresh());
  }

  /** The key for the next upstream attempt. */
  current(): string {
    if (!this.key) throw new Error('The upstream key has not been loaded');
    return this.key.value;
  }

  /**
   * After the upstream refused `rejected`: the key to retry with, or undefined when there is none
   * (a re-read that yields the same refused key must not loop).
   */
  async replacementFor(rejected: string): Promise<string | undefined> {
    if (this.key?.value === rejected) await this.refresh();
    const candidates = [this.key?.value, this.previous?.value];
    return candidates.find((candidate) => candidate !== undefined && candidate !== rejected);
  }

  /** Re-reads the key now; concurrent callers share one read. */
  refresh(): Promise<RefreshOutcome> {
    this.refreshing ??= this.read().finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  /** Called after every refresh, for metrics. */
  onRefresh(listener: (outcome: RefreshOutcome) => void): void {
    this.refreshed.add(listener);
  }

  status(): UpstreamKeyStatus {
    if (!this.key) throw new Error('The upstream key has not been loaded');
    const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());
    return {
      provider: this.provider.description,
      version: this.key.version,
      fingerprint: this.key.fingerprint,
      loadedAt: new Date(this.key.loadedAt).toISOString(),
      previous: this.previous && { version: this.previous.version, fingerprint: this.previous.fingerprint },
      lastRefreshAt: iso(this.lastRefreshAt),
      lastError: this.lastError && { ...this.lastError, at: new Date(this.lastError.at).toISOString() },
      refreshes: this.refreshes,
      failures: this.failures,
    };
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
    this.stopWatching?.();
  }

  private async read(): Promise<RefreshOutcome> {
    const outcome = await this.readOnce();
    this.refreshed.emit(outcome);
    return outcome;
  }

  private async readOnce(): Promise<RefreshOutcome> {
    this.lastRefreshAt = this.clock.now();
    this.refreshes++;
    try {
      const { value, version } = await this.provider.read();
      this.lastError = undefined;
      if (value === this.key?.value) return 'unchanged';
      this.previous = this.key;
      this.key = this.loaded(value, version);
      this.logger.log(`Upstream key rotated: version ${version}, fingerprint ${this.key.fingerprint} (was ${this.previous?.fingerprint})`);
      return 'rotated';
    } catch (error) {
      this.failures++;
      const failure = error instanceof SecretUnavailableError ? error.failure : 'unreachable';
      this.lastError = { failure, message: (error as Error).message, at: this.clock.now() };
      this.logger.warn(`${(error as Error).message}; still serving with version ${this.key?.version}, fingerprint ${this.key?.fingerprint}`);
      return 'failed';
    }
  }

  private loaded(value: string, version: string): LoadedKey {
    return { value, version, fingerprint: fingerprintOf(value), loadedAt: this.clock.now() };
  }
}
