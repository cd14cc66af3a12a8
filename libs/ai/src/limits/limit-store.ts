/** A fixed one-minute window's count, and how long until it renews. */
export interface WindowCount {
  count: number;
  resetMs: number;
}

/** One call's rate limits and slot, taken together. A null limit is not counted. */
export interface LimitTake {
  tenantId: string;
  now: number;
  requestsPerMinute: number | null;
  tokensPerMinute: number | null;
  /** Counted against tokensPerMinute. */
  tokens: number;
  concurrentRequests: number | null;
  /** Names the slot, to free it. */
  holder: string;
  /** A slot older than this belongs to a process that died, and is dropped. */
  slotTtlMs: number;
}

export type LimitRefusal = 'requests' | 'tokens' | 'slots';

/**
 * What the store counted. A refused call counts in no window past the one that refused it (a token refusal
 * still counts the request; a slot refusal still counts the request but not its tokens), as before it asked.
 */
export interface LimitTakeOutcome {
  refused?: LimitRefusal;
  requests: WindowCount;
  tokens: WindowCount;
}

/** A call's end: its slot freed and its token count corrected (negative: given back, never below zero). */
export interface LimitRelease {
  tenantId: string;
  tokensDelta: number;
  holder?: string;
}

export interface LimitStore {
  take(take: LimitTake): Promise<LimitTakeOutcome>;
  release(releases: LimitRelease[]): Promise<void>;
}

export const WINDOW_MS = 60_000;
