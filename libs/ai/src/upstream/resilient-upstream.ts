import { Inject, Injectable } from '@nestjs/common';
import { BreakerOptions, RetryOptions, TimeoutOptions } from '../ai-module-options';
import { BREAKER_OPTIONS, FALLBACK_MODELS, RETRY_OPTIONS, TIMEOUT_OPTIONS } from '../ai-option-slices';
import { Clock, InjectClock } from '../common/clock';
import { InjectRandom, Random } from '../common/random';
import {
  AiError,
  isAiError,
  UpstreamAuthFailedError,
  UpstreamQuotaExhaustedError,
  UpstreamRateLimitedError,
  UpstreamUnavailableError,
} from '../errors/ai-errors';
import { BreakerRegistry, Breakers, ModelBreaker } from './breaker-registry';
import { classifyUpstreamError } from './classify-upstream-error';
import { Deadline } from './deadline';
import { decideRetry } from './retry-policy';
import { RetryBudget } from './retry-budget';
import { UpstreamResponse } from './upstream-client';
import { UpstreamEvents } from './upstream-events';
import { PooledKey, UpstreamPool } from './upstream-pool';
import { UpstreamEndpoint } from './upstream-pool-options';

export interface CallContext {
  /** Whose call it is: each tenant retries within its own share of the retry budget. */
  tenantId?: string;
  /** Aborts the call and cancels the upstream request (e.g. the tenant disconnected). */
  signal?: AbortSignal;
  /** A shorter deadline than the configured total; a longer one is ignored. */
  timeoutMs?: number;
  /** The models to try after the requested one, when the caller has chosen them (a tenant's own chain). @default the module's `fallbackModels` of the model */
  fallbacks?: string[];
  /**
   * When the upstream names its own wait (`retry-after`), fail at once with that wait instead of
   * sleeping it: a queued job waits in its queue, not in a retry loop. @default false
   */
  deferRetryAfter?: boolean;
  /**
   * No breaker guards or counts the call, and no model's metrics count it: it is no model's (the model list), and its
   * failures and latency say nothing of one. @default false
   */
  unguarded?: boolean;
}

/** What an attempt gets: its signal, upstream and key, and a way to abort it later (a stream's idle timeout). */
export interface AttemptControl {
  /** The call's attempts share it until one is aborted: a transport stops listening when its request ends (undici does). */
  readonly signal: AbortSignal;
  /** The upstream key to authenticate this attempt with. */
  readonly apiKey: string;
  /** The upstream this attempt goes to. */
  readonly upstream: UpstreamEndpoint;
  abort(reason: AiError): void;
  /** Turns whatever the upstream threw into the library's taxonomy; an abort becomes its reason. */
  classify(error: unknown): unknown;
}

export type Attempt<T> = (model: string, control: AttemptControl) => Promise<UpstreamResponse<T>>;

export interface CallOutcome<T> {
  value: T;
  /** The model that answered: the requested one or a fallback. */
  model: string;
  /** Upstream calls made, retries and fallbacks included. */
  attempts: number;
  upstreamRequestId?: string;
  /** The name of the upstream that answered. */
  upstream: string;
}

interface CallState {
  readonly deadline: Deadline;
  readonly tenantId?: string;
  readonly breakers: Breakers;
  /** No model's call (the model list): no breaker, and no model's metrics. */
  readonly unguarded: boolean;
  readonly deferRetryAfter?: boolean;
  attempts: number;
  /** The keys this call left for another one (rate limited, out of credit, refused): not chosen again by it. */
  readonly leftKeys: Set<PooledKey>;
  /** Upstreams that failed this call (5xx, timeouts): its retries go to another upstream of the route first. */
  readonly failedUpstreams: Set<string>;
  /** A refused key's replacement value (a re-read, or the previous version), tried at once on the same key; once per call. */
  replacement?: { key: PooledKey; value: string };
  replacementTried: boolean;
  /**
   * When the call's last wait was meant to end, by the clock: a rest it waited out is over then, though the timer,
   * aimed by the event loop's cached time, may ring a moment before the clock gets there.
   */
  waitedUntil?: number;
}

/** Where one attempt goes; `probe`: the one attempt let through to an out key, to see whether it is back. */
interface Target {
  key: PooledKey;
  breaker: ModelBreaker;
  apiKey: string;
  probe: boolean;
}

/** The models to try after `model`: its own entry only, never one it inherits (`constructor`, `toString`…). */
export function fallbackChainOf(chains: Record<string, string[]>, model: string): string[] {
  return Object.hasOwn(chains, model) ? chains[model] : [];
}

/**
 * The one layer that retries: retry( breaker( timeout( attempt ) ) ), model by model through
 * the configured fallbacks, inside one deadline and the process's retry budget.
 */
@Injectable()
export class ResilientUpstream {
  constructor(
    @Inject(TIMEOUT_OPTIONS) private readonly timeouts: TimeoutOptions,
    @Inject(RETRY_OPTIONS) private readonly retry: RetryOptions,
    @Inject(BREAKER_OPTIONS) private readonly breakerOptions: BreakerOptions,
    @Inject(FALLBACK_MODELS) private readonly fallbackModels: Record<string, string[]>,
    private readonly breakers: BreakerRegistry,
    private readonly budget: RetryBudget,
    @InjectClock() private readonly clock: Clock,
    @InjectRandom() private readonly random: Random,
    private readonly pool: UpstreamPool,
    private readonly events: UpstreamEvents,
  ) {}

  async call<T>(model: string, context: CallContext, attempt: Attempt<T>): Promise<CallOutcome<T>> {
    const { totalMs, firstByteMs } = this.timeouts;
    const durationMs = Math.min(totalMs, context.timeoutMs ?? Infinity);
    const limits = { durationMs, firstByteMs, shortenedByCaller: durationMs < totalMs };
    const state: CallState = {
      deadline: new Deadline(this.clock, limits, context.signal),
      tenantId: context.tenantId,
      breakers: context.unguarded ? this.breakers.unguarded : this.breakers,
      unguarded: context.unguarded ?? false,
      deferRetryAfter: context.deferRetryAfter,
      attempts: 0,
      leftKeys: new Set(),
      failedUpstreams: new Set(),
      replacementTried: false,
    };
    this.budget.recordRequest(context.tenantId);
    const fallbacks = context.fallbacks ?? fallbackChainOf(this.fallbackModels, model);
    try {
      return await this.callWithFallbacks([model, ...fallbacks], state, attempt);
    } catch (error) {
      if (isAiError(error)) error.upstreamAttempts = state.attempts;
      throw error;
    } finally {
      state.deadline.release();
    }
  }

  private async callWithFallbacks<T>(candidates: string[], state: CallState, attempt: Attempt<T>): Promise<CallOutcome<T>> {
    let lastFailure: unknown;
    for (const candidate of candidates) {
      try {
        return await this.callModel(candidate, state, attempt);
      } catch (error) {
        if (!(isAiError(error) && error.policy.triesFallback)) throw error;
        lastFailure = error;
      }
    }
    throw lastFailure;
  }

  private async callModel<T>(model: string, state: CallState, attempt: Attempt<T>): Promise<CallOutcome<T>> {
    // A key left for a model (rate limited for it) may serve another; keys that cannot serve at all are out.
    state.leftKeys.clear();
    // A fallback's first call adds upstream load like a retry, unless no upstream could take it anyway.
    if (state.attempts > 0 && this.pool.hasReadyKey(model, state.breakers, state.leftKeys)) this.spendRetryBudget(state, this.retry.baseDelayMs);
    for (let attemptOfModel = 1; ; attemptOfModel++) {
      const target = this.targetFor(model, state);
      let failure: AiError;
      if ('refusal' in target) {
        failure = target.refusal;
      } else {
        try {
          const response = await target.breaker.fire(() => this.attemptOnce(model, target, state, attempt));
          const { data: value, requestId: upstreamRequestId } = response;
          return { value, model, attempts: state.attempts, upstreamRequestId, upstream: target.key.upstream.name };
        } catch (error) {
          if (!isAiError(error)) throw error;
          failure = error;
          if (failure.policy.tripsBreaker) state.failedUpstreams.add(target.key.upstream.name);
        }
        if (await this.triesAnotherKey(failure, target, model, state)) {
          attemptOfModel--;
          continue;
        }
      }
      // The upstream's own wait is the caller's to take (CallContext.deferRetryAfter); fallbacks are still tried.
      if (state.deferRetryAfter && failure.policy.retryable && failure.retryAfterMs !== undefined) throw failure;
      const decision = decideRetry(failure, attemptOfModel, state.deadline.remainingMs(), this.retry, this.random);
      if (!decision.retry) {
        failure.retryAfterMs ??= decision.retryAfterMs;
        throw failure;
      }
      const open = this.pool.openBreaker(model, state.breakers);
      if (open) throw open.rejection();
      this.spendRetryBudget(state, decision.delayMs);
      if (!state.unguarded) this.events.retried.emit({ model });
      state.waitedUntil = this.clock.now() + decision.delayMs;
      await state.deadline.sleep(decision.delayMs);
      // After a wait every key may be tried again: a rested key is ready, a refused one may have been rotated.
      state.leftKeys.clear();
    }
  }

  /** The key for the next attempt: a refused key's replacement first, else the pool's choice. */
  private targetFor(model: string, state: CallState): Target | { refusal: AiError } {
    const { replacement } = state;
    if (replacement && !state.replacementTried) {
      state.replacementTried = true;
      return { key: replacement.key, breaker: state.breakers.forModel(model, replacement.key.upstream.name), apiKey: replacement.value, probe: false };
    }
    const choice = this.pool.choose(model, state.breakers, state.leftKeys, state.failedUpstreams, state.waitedUntil);
    return 'refusal' in choice ? choice : { ...choice, apiKey: choice.key.rotation.current() };
  }

  /**
   * Whether the failure was the key's, and the call goes on at once with another: a refused key's replacement value,
   * or, past a 429 (the key rests) or an exhausted account (the key is out), another ready key. Moving to another key
   * is not a retry of the same one, but it adds an upstream call like one: it is paid from the retry budget.
   */
  private async triesAnotherKey(error: AiError, { key, apiKey }: Target, model: string, state: CallState): Promise<boolean> {
    if (error instanceof UpstreamAuthFailedError && !state.replacementTried) {
      const value = await key.rotation.replacementFor(apiKey);
      if (value !== undefined) {
        state.replacement = { key, value };
        return true;
      }
    }
    if (error instanceof UpstreamRateLimitedError) this.pool.rest(key, model, error.retryAfterMs);
    else if (error instanceof UpstreamQuotaExhaustedError) this.pool.takeOut(key, 'insufficient_quota', 'its account has run out of credit (insufficient_quota)');
    else if (error instanceof UpstreamAuthFailedError) this.pool.takeOut(key, 'refused', 'the upstream refused it (401), a re-read of its secret included');
    else return false;
    state.leftKeys.add(key);
    if (!this.pool.hasReadyKey(model, state.breakers, state.leftKeys)) {
      if (error instanceof UpstreamQuotaExhaustedError) error.retryAfterMs ??= this.breakerOptions.resetTimeoutMs;
      return false;
    }
    this.spendRetryBudget(state, 0);
    this.events.keyFailedOver.emit({ upstream: key.upstream.name, key: key.name, reason: error.code });
    return true;
  }

  /** Asked before any upstream call beyond a call's first; refused, the call fails now rather than after a wait. */
  private spendRetryBudget(state: CallState, retryAfterMs: number): void {
    if (this.budget.tryAcquireRetry(state.tenantId)) return;
    this.events.retryRefusedByBudget.emit();
    throw new UpstreamUnavailableError(
      'retry_budget_exhausted',
      { retryAfterMs: Math.max(1000, retryAfterMs) },
      { retryable: false, tripsBreaker: false, triesFallback: false },
    );
  }

  /** One upstream call through `target`, bounded by the first-byte timeout. */
  private async attemptOnce<T>(model: string, target: Target, state: CallState, attempt: Attempt<T>): Promise<UpstreamResponse<T>> {
    const { key, probe } = target;
    let controller: AbortController;
    try {
      controller = state.deadline.beginAttempt();
    } catch (error) {
      this.pool.attemptFailed(key, probe);
      throw error;
    }
    state.attempts++;
    const control = this.attemptControl(model, controller, target);
    const startedAt = this.clock.now();
    let outcome = 'success';
    key.inFlight++;
    try {
      const response = await attempt(model, control);
      this.pool.answered(key, response.account, probe);
      return response;
    } catch (error) {
      const classified = control.classify(error);
      outcome = isAiError(classified) ? classified.code : 'internal_error';
      this.pool.attemptFailed(key, probe);
      throw classified;
    } finally {
      key.inFlight--;
      state.deadline.endAttempt();
      if (!state.unguarded) this.events.attemptEnded.emit({ model, upstream: key.upstream.name, outcome, seconds: (this.clock.now() - startedAt) / 1000 });
    }
  }

  private attemptControl(model: string, controller: AbortController, { key, apiKey }: Target): AttemptControl {
    const { signal } = controller;
    return {
      signal,
      apiKey,
      upstream: key.upstream,
      abort: (reason) => controller.abort(reason),
      classify: (error) => (signal.aborted ? signal.reason : classifyUpstreamError(error, model, this.clock.now(), this.pool.scrubber)),
    };
  }
}
