import { Clock } from '../common/clock';
import { LimitRelease, LimitStore, LimitTake, LimitTakeOutcome, WINDOW_MS, WindowCount } from './limit-store';

interface Window {
  count: number;
  resetsAt: number;
}

/** The limits of this process alone: when there is no Redis, and while Redis does not answer. */
export class MemoryLimitStore implements LimitStore {
  private readonly requests = new Map<string, Window>();
  private readonly tokens = new Map<string, Window>();
  private readonly slots = new Map<string, Set<string>>();

  constructor(private readonly clock: Clock) {}

  async take(take: LimitTake): Promise<LimitTakeOutcome> {
    const { tenantId, requestsPerMinute, tokensPerMinute, tokens, concurrentRequests, holder } = take;
    const requests = this.window(this.requests, tenantId);
    const tokenWindow = this.window(this.tokens, tenantId);
    const outcome = (refused?: LimitTakeOutcome['refused']): LimitTakeOutcome => ({ refused, requests: this.countOf(requests), tokens: this.countOf(tokenWindow) });
    if (requestsPerMinute !== null) {
      if (requests.count + 1 > requestsPerMinute) return outcome('requests');
      requests.count += 1;
    }
    if (tokensPerMinute !== null) {
      if (tokenWindow.count + tokens > tokensPerMinute) return outcome('tokens');
      tokenWindow.count += tokens;
    }
    if (concurrentRequests !== null) {
      const held = this.slots.get(tenantId) ?? new Set<string>();
      if (held.size >= concurrentRequests) {
        if (tokensPerMinute !== null) tokenWindow.count -= tokens;
        return outcome('slots');
      }
      held.add(holder);
      this.slots.set(tenantId, held);
    }
    return outcome();
  }

  async release(releases: LimitRelease[]): Promise<void> {
    for (const { tenantId, tokensDelta, holder } of releases) {
      const window = this.window(this.tokens, tenantId);
      window.count = Math.max(0, window.count + tokensDelta);
      if (holder === undefined) continue;
      const held = this.slots.get(tenantId);
      held?.delete(holder);
      if (held?.size === 0) this.slots.delete(tenantId);
    }
  }

  private window(windows: Map<string, Window>, tenantId: string): Window {
    const now = this.clock.now();
    const current = windows.get(tenantId);
    if (current && current.resetsAt > now) return current;
    const fresh = { count: 0, resetsAt: now + WINDOW_MS };
    windows.set(tenantId, fresh);
    return fresh;
  }

  private countOf(window: Window): WindowCount {
    return { count: window.count, resetMs: Math.max(0, window.resetsAt - this.clock.now()) };
  }
}
