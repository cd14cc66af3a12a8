import { Inject, Injectable } from '@nestjs/common';
import { BreakerOptions, RetryOptions, TimeoutOptions } from '../ai-module-options';
import { BREAKER_OPTIONS, FALLBACK_MODELS, RETRY_OPTIONS, TIMEOUT_OPTIONS } from '../ai-option-slices';
import { Clock, InjectClock } from '../common/clock';
import { InjectRandom, Random } from '../common/random';
import { AiError, isAiError, UpstreamAuthFailedError, UpstreamQuotaExhaustedError, UpstreamUnavailableError } from '../errors/ai-errors';
import { UpstreamKeyManager } from '../secrets/upstream-key-manager';
import { BreakerRegistry } from './breaker-registry';
import { classifyUpstreamError } from './classify-upstream-error';
import { Deadline } from './deadline';
import { decideRetry } from './retry-policy';
import { RetryBudget } from './retry-budget';
import { UpstreamResponse } from './upstream-client';
import { UpstreamEvents } from './upstream-events';

export interface CallContext {
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
}

/** What an attempt gets: its signal and key, and a way to abort it later (a stream's idle timeout). */
export interface AttemptControl {
  /** The call's attempts share it until one is aborted: a transport stops listening when its request ends (undici does). */
  readonly signal: AbortSignal;
  /** The upstream key to authenticate this attempt with. */
  readonly apiKey: string;
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
}

interface CallState {
  readonly deadline: Deadline;
  readonly deferRetryAfter?: boolean;
  attempts: number;
  /** The key of the last attempt, to ask for a replacement when the upstream refuses it. */
  lastKey?: string;
  /** The key that replaced a refused one; a refused key is replaced at most once per call. */
  replacementKey?: string;
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
    private readonly keys: UpstreamKeyManager,
    private readonly events: UpstreamEvents,
  ) {}

  async call<T>(model: string, context: CallContext, attempt: Attempt<T>): Promise<CallOutcome<T>> {
    const { totalMs, firstByteMs } = this.timeouts;
    const durationMs = Math.min(totalMs, context.timeoutMs ?? Infinity);
    const limits = { durationMs, firstByteMs, shortenedByCaller: durationMs < totalMs };
    const state: CallState = {
      deadline: new Deadline(this.clock, limits, context.signal),
      deferRetryAfter: context.deferRetryAfter,
      attempts: 0,
    };
    this.budget.recordRequest();
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
    const breaker = this.breakers.forModel(model);
    // A fallback's first call adds upstream load like a retry, unless an open breaker rejects it for free.
    if (state.attempts > 0 && breaker.allowsCalls()) this.spendRetryBudget(this.retry.baseDelayMs);
    for (let attemptOfModel = 1; ; attemptOfModel++) {
      try {
        const response = await breaker.fire(() => this.attemptOnce(model, state, attempt));
        return { value: response.data, model, attempts: state.attempts, upstreamRequestId: response.requestId };
      } catch (error) {
        if (!isAiError(error)) throw error;
        if (await this.replacedRefusedKey(error, state)) continue;
        this.onFailure(error);
        // The upstream's own wait is the caller's to take (CallContext.deferRetryAfter); fallbacks are still tried.
        if (state.deferRetryAfter && error.policy.retryable && error.retryAfterMs !== undefined) throw error;
        const decision = decideRetry(error, attemptOfModel, state.deadline.remainingMs(), this.retry, this.random);
        if (!decision.retry) {
          error.retryAfterMs ??= decision.retryAfterMs;
          throw error;
        }
        if (!breaker.allowsCalls()) throw breaker.rejection();
        this.spendRetryBudget(decision.delayMs);
        this.events.retried.emit({ model });
        await state.deadline.sleep(decision.delayMs);
      }
    }
  }

  /** An upstream 401: retry once at once with a re-read (or the previous) key, if there is another one. */
  private async replacedRefusedKey(error: AiError, state: CallState): Promise<boolean> {
    if (!(error instanceof UpstreamAuthFailedError) || state.replacementKey !== undefined || state.lastKey === undefined) return false;
    state.replacementKey = await this.keys.replacementFor(state.lastKey);
    return state.replacementKey !== undefined;
  }

  private onFailure(error: AiError): void {
    // An exhausted account fails every model alike: stop calling any of them.
    if (error instanceof UpstreamQuotaExhaustedError) {
      this.breakers.forceOpenAll();
      error.retryAfterMs ??= this.breakerOptions.resetTimeoutMs;
    }
  }

  /** Asked before any upstream call beyond a call's first; refused, the call fails now rather than after a wait. */
  private spendRetryBudget(retryAfterMs: number): void {
    if (this.budget.tryAcquireRetry()) return;
    this.events.retryRefusedByBudget.emit();
    throw new UpstreamUnavailableError(
      'retry_budget_exhausted',
      { retryAfterMs: Math.max(1000, retryAfterMs) },
      { retryable: false, tripsBreaker: false, triesFallback: false },
    );
  }

  /** One upstream call, bounded by the first-byte timeout. */
  private async attemptOnce<T>(model: string, state: CallState, attempt: Attempt<T>): Promise<UpstreamResponse<T>> {
    const controller = state.deadline.beginAttempt();
    state.attempts++;
    state.lastKey = state.replacementKey ?? this.keys.current();
    const control = this.attemptControl(model, controller, state.lastKey);
    const startedAt = this.clock.now();
    let outcome = 'success';
    try {
      return await attempt(model, control);
    } catch (error) {
      const classified = control.classify(error);
      outcome = isAiError(classified) ? classified.code : 'internal_error';
      throw classified;
    } finally {
      state.deadline.endAttempt();
      this.events.attemptEnded.emit({ model, outcome, seconds: (this.clock.now() - startedAt) / 1000 });
    }
  }

  private attemptControl(model: string, controller: AbortController, apiKey: string): AttemptControl {
    const { signal } = controller;
    return {
      signal,
      apiKey,
      abort: (reason) => controller.abort(reason),
      classify: (error) => (signal.aborted ? signal.reason : classifyUpstreamError(error, model, this.clock.now(), this.keys.scrubber)),
    };
  }
}
