import { Inject, Injectable, Logger } from '@nestjs/common';
import CircuitBreaker from 'opossum';
import { BreakerOptions } from '../ai-module-options';
import { BREAKER_OPTIONS, UPSTREAM_POOL_OPTIONS } from '../ai-option-slices';
import { Clock, InjectClock } from '../common/clock';
import { Listeners } from '../common/listeners';
import { isAiError, RequestAbortedError, UpstreamUnavailableError } from '../errors/ai-errors';
import { UpstreamPoolOptions } from './upstream-pool-options';

export type BreakerState = 'closed' | 'open' | 'half_open';

export interface BreakerStatus {
  upstream: string;
  model: string;
  state: BreakerState;
  /** When an open breaker lets its next probe through. */
  halfOpenAt?: number;
  /** Calls that reached the upstream in the breaker's rolling window, and how many of them failed it. */
  recentCalls: number;
  recentFailures: number;
}

type Action = () => Promise<unknown>;

const MIN_RETRY_AFTER_MS = 1000;

/** The breaker of one upstream and model. */
export class ModelBreaker {
  private readonly breaker: CircuitBreaker<[Action], unknown>;
  private openedAt?: number;
  private idleHalfOpen?: NodeJS.Timeout;

  constructor(
    readonly upstream: string,
    readonly model: string,
    private readonly resetTimeoutMs: number,
    private readonly clock: Clock,
    options: CircuitBreaker.Options,
    onStateChange: (state: BreakerState) => void = () => undefined,
  ) {
    this.breaker = new CircuitBreaker((action: Action) => action(), options);
    this.breaker.on('open', () => {
      clearTimeout(this.idleHalfOpen);
      this.openedAt = this.clock.now();
      onStateChange('open');
    });
    this.breaker.on('halfOpen', () => {
      this.closeIfNoProbeComes();
      onStateChange('half_open');
    });
    this.breaker.on('close', () => {
      clearTimeout(this.idleHalfOpen);
      this.openedAt = undefined;
      onStateChange('closed');
    });
  }

  /**
   * A half-open breaker waits for a call to probe the upstream with. A model without traffic sends none, and its
   * breaker would stay half-open (and its alert firing) until someone called it: with no probe in another reset
   * period, it closes. Nobody was exposed meanwhile, and the next calls find out as a probe would, with at most
   * `volumeThreshold` of them failing before it opens again.
   */
  private closeIfNoProbeComes(): void {
    clearTimeout(this.idleHalfOpen);
    this.idleHalfOpen = setTimeout(() => {
      if (this.breaker.halfOpen && this.breaker.pendingClose) this.breaker.close();
    }, this.resetTimeoutMs).unref();
  }

  /** Runs one upstream attempt; fails fast with a 503-class error while open. */
  async fire<T>(attempt: () => Promise<T>): Promise<T> {
    const probing = this.breaker.halfOpen;
    try {
      return (await this.breaker.fire(attempt)) as T;
    } catch (error) {
      if (isOpenBreakerRejection(error)) throw this.rejection();
      // opossum counts a filtered error as a success, which closes a half-open breaker: a probe
      // its caller abandoned proved nothing, so wait another reset period.
      if (probing && error instanceof RequestAbortedError) this.breaker.open();
      throw error;
    }
  }

  /** What a call gets while the breaker is open; at least a second, as "retry now" during a probe would invite a stampede. */
  rejection(): UpstreamUnavailableError {
    const retryAfterMs = Math.max(MIN_RETRY_AFTER_MS, this.msUntilHalfOpen());
    return new UpstreamUnavailableError('circuit_open', { retryAfterMs }, { retryable: false, tripsBreaker: false });
  }

  /** Opens at once, without waiting for the failure ratio (tests drive an open breaker with it). */
  forceOpen(): void {
    this.breaker.open();
  }

  /** False while open: a call now would be rejected without reaching the upstream. */
  allowsCalls(): boolean {
    return this.breaker.closed || this.breaker.pendingClose;
  }

  msUntilHalfOpen(): number {
    if (this.openedAt === undefined) return 0;
    return Math.max(0, this.openedAt + this.resetTimeoutMs - this.clock.now());
  }

  state(): BreakerState {
    return this.breaker.halfOpen ? 'half_open' : this.breaker.opened ? 'open' : 'closed';
  }

  status(): BreakerStatus {
    const state = this.state();
    const halfOpenAt = state === 'open' && this.openedAt !== undefined ? this.openedAt + this.resetTimeoutMs : undefined;
    const { successes, failures } = this.breaker.stats;
    return { upstream: this.upstream, model: this.model, state, halfOpenAt, recentCalls: successes + failures, recentFailures: failures };
  }

  shutdown(): void {
    clearTimeout(this.idleHalfOpen);
    this.breaker.shutdown();
  }
}

function isOpenBreakerRejection(error: unknown): boolean {
  return error instanceof Error && (error as { code?: unknown }).code === 'EOPENBREAKER';
}

/** A model's breaker at an upstream, as the pool and the call policy ask for it. */
export interface Breakers {
  forModel(model: string, upstream?: string): ModelBreaker;
}

/**
 * One breaker per upstream and model, created on first use. They count the upstream's health only: what is wrong
 * with one key (a 429, an exhausted account) is that key's state in UpstreamPool.
 */
@Injectable()
export class BreakerRegistry implements Breakers {
  private readonly breakers = new Map<string, ModelBreaker>();
  private readonly passThrough = new Map<string, ModelBreaker>();
  private readonly stateChanged = new Listeners<{ model: string; upstream: string; state: BreakerState }>(new Logger(BreakerRegistry.name));
  /** The first upstream: the one meant where none is named. */
  private readonly defaultUpstream: string;

  constructor(
    @Inject(UPSTREAM_POOL_OPTIONS) pool: UpstreamPoolOptions,
    @Inject(BREAKER_OPTIONS) private readonly breakerOptions: BreakerOptions,
    @InjectClock() private readonly clock: Clock,
  ) {
    this.defaultUpstream = pool.upstreams[0].name;
  }

  forModel(model: string, upstream = this.defaultUpstream): ModelBreaker {
    const key = `${upstream} ${model}`;
    let breaker = this.breakers.get(key);
    if (!breaker) {
      breaker = this.create(upstream, model);
      this.breakers.set(key, breaker);
    }
    return breaker;
  }

  /**
   * For calls that are no model's (the model list): breakers that never open, in no status, metric or alert. Such a
   * call's failures say nothing of a model's health, and a model named `GET /models` would mislead whoever reads them.
   */
  readonly unguarded: Breakers = {
    forModel: (_route, upstream = this.defaultUpstream) => {
      let breaker = this.passThrough.get(upstream);
      if (!breaker) this.passThrough.set(upstream, (breaker = new ModelBreaker(upstream, '', this.breakerOptions.resetTimeoutMs, this.clock, { timeout: false, errorFilter: () => true })));
      return breaker;
    },
  };

  /** Called whenever a breaker changes state, for metrics and alerts. */
  onStateChange(listener: (model: string, state: BreakerState, upstream: string) => void): void {
    this.stateChanged.add(({ model, state, upstream }) => listener(model, state, upstream));
  }

  statuses(): BreakerStatus[] {
    return [...this.breakers.values()].map((breaker) => breaker.status());
  }

  /** The state of a model's breaker at an upstream (the first by default); closed for a model not called yet. */
  stateOf(model: string, upstream = this.defaultUpstream): BreakerState {
    return this.breakers.get(`${upstream} ${model}`)?.state() ?? 'closed';
  }

  /** Called by AiLifecycle once no call can come any more: a shut breaker refuses every call. */
  shutdown(): void {
    this.breakers.forEach((breaker) => breaker.shutdown());
    this.passThrough.forEach((breaker) => breaker.shutdown());
  }

  private create(upstream: string, model: string): ModelBreaker {
    const { errorThresholdPercentage, volumeThreshold, windowMs, resetTimeoutMs } = this.breakerOptions;
    const changed = (state: BreakerState) => this.stateChanged.emit({ model, upstream, state });
    return new ModelBreaker(upstream, model, resetTimeoutMs, this.clock, {
      name: `${upstream} ${model}`,
      // Time limits belong to the call policy, which aborts the request itself.
      timeout: false,
      errorThresholdPercentage,
      volumeThreshold,
      rollingCountTimeout: windowMs,
      rollingCountBuckets: 10,
      resetTimeout: resetTimeoutMs,
      // opossum counts a filtered error as a success: only upstream-health failures may open it.
      errorFilter: (error: unknown) => !(isAiError(error) && error.policy.tripsBreaker),
    }, changed);
  }
}
