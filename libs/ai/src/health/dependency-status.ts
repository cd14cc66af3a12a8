import { Logger } from '@nestjs/common';
import { Listeners } from '../common/listeners';
import type { Dependency } from '../errors/ai-errors';

export type DependencyListener = (up: boolean) => void;

/**
 * Whether a dependency answered the last time it was used. Each change is logged once, however
 * many calls fail meanwhile, and announced to the listeners (the metrics).
 */
export class DependencyStatus {
  private readonly logger = new Logger(DependencyStatus.name);
  private readonly changed = new Listeners<boolean>(this.logger);
  private reachableNow = true;

  /** `whileDown` says what the library does until the dependency is back, for the log line. */
  constructor(
    readonly dependency: Dependency,
    private readonly whileDown: string,
  ) {}

  get up(): boolean {
    return this.reachableNow;
  }

  reachable(): void {
    if (this.reachableNow) return;
    this.reachableNow = true;
    this.logger.log(`${this.dependency} reachable again`);
    this.announce();
  }

  /** `failure` goes to the log: a code or a driver's message, never a URL's credentials (see failureOf). */
  unreachable(failure: string): void {
    if (!this.reachableNow) return;
    this.reachableNow = false;
    this.logger.warn(`${this.dependency} unreachable (${failure}): ${this.whileDown}`);
    this.announce();
  }

  onChange(listener: DependencyListener): void {
    this.changed.add(listener);
  }

  private announce(): void {
    this.changed.emit(this.reachableNow);
  }
}

/** A driver error in a few words for a log line: its code and message, with any credentials in a URL cut out. */
export function failureOf(error: unknown): string {
  const cause = (error as { driverError?: unknown })?.driverError ?? error;
  const code = (cause as { code?: unknown })?.code;
  const message = String((cause as { message?: unknown })?.message ?? cause);
  const words = typeof code === 'string' && !message.includes(code) ? `${code} ${message}` : message;
  return (words || 'no message').replace(/\/\/[^/@\s]*@/g, '//[redacted]@');
}
