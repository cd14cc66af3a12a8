import { Injectable, Logger } from '@nestjs/common';
import { Listeners } from '../common/listeners';
import type { BreakerState } from '../upstream/breaker-registry';

/** The OpenAI API a call is made to, as its ledger row names it. */
export type Endpoint = 'chat.completions' | 'embeddings' | 'responses';

/** How one call ended (or was refused), as logs, metrics and alerts see it. */
export interface CallRecord {
  requestId: string;
  tenantId: string;
  keyId: string | null;
  endpoint: Endpoint;
  modelRequested: string;
  /** The model that answered; null when none did. */
  modelServed: string | null;
  promptTokens: number;
  completionTokens: number;
  /** The part of `promptTokens` read from the prompt cache, billed at the cached price. */
  cachedTokens: number;
  /** The part of `completionTokens` the model spent reasoning. */
  reasoningTokens: number;
  costUsd: number;
  /** Upstream calls made, retries and fallbacks included. */
  attempts: number;
  /** `success`, or the error code that ended or refused the call. */
  outcome: string;
  /** False when a limit refused the call before it held a reservation. */
  admitted: boolean;
  stream: boolean;
  latencyMs: number;
  upstreamRequestId: string | null;
  /** The name of the upstream that answered; null when none did. */
  upstream: string | null;
  /** The state of the breaker of the model that answered (or was asked) when the call ended. */
  breakerState: BreakerState;
  /** What was sent (a chat's messages, another endpoint's input) and the completion, only for a tenant whose content an operator chose to log. */
  content?: ({ messages: unknown } | { input: unknown }) & { completion: string | null };
}

export type CallListener = (record: CallRecord) => void;

/** Where the call path announces every call's end (or refusal); metrics, quota watching and alerting listen. */
@Injectable()
export class CallEvents {
  private readonly logger = new Logger(CallEvents.name);
  private readonly ended = new Listeners<CallRecord>(this.logger);

  /** Returns the function that stops listening. */
  onCallEnded(listener: CallListener): () => void {
    return this.ended.add(listener);
  }

  /** A failing listener is logged and never fails the call; `caller` is the call's own listener, told after the others. */
  callEnded(record: CallRecord, caller?: CallListener): void {
    this.ended.emit(record);
    try {
      caller?.(record);
    } catch (error) {
      this.logger.error(`the caller's call listener failed: ${(error as Error).message}`);
    }
  }
}
