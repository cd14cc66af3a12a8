import type Redis from 'ioredis';
import { LimitRelease, LimitStore, LimitTake, LimitTakeOutcome, WINDOW_MS } from './limit-store';

// KEYS: requests, tokens, slots. ARGV: now, window, requests per minute, tokens per minute, tokens, slots, holder,
// slot TTL (a limit of -1: none). Returns the refusal (0 none, 1 requests, 2 tokens, 3 slots) and both windows.
const TAKE = `
local now, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local rpm, tpm, points, slots, slotTtl = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[8])
local function count(key)
  local value = tonumber(redis.call('GET', key) or '0')
  local ttl = redis.call('PTTL', key)
  if ttl < 0 then ttl = window end
  return value, ttl
end
local function add(key, n)
  local value = redis.call('INCRBY', key, n)
  local ttl = redis.call('PTTL', key)
  if ttl < 0 then redis.call('PEXPIRE', key, window) ttl = window end
  return value, ttl
end
local requests, requestsTtl = count(KEYS[1])
local tokens, tokensTtl = count(KEYS[2])
if rpm >= 0 then
  if requests + 1 > rpm then return {1, requests, requestsTtl, tokens, tokensTtl} end
  requests, requestsTtl = add(KEYS[1], 1)
end
if tpm >= 0 then
  if tokens + points > tpm then return {2, requests, requestsTtl, tokens, tokensTtl} end
  tokens, tokensTtl = add(KEYS[2], points)
end
if slots >= 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - slotTtl)
  if redis.call('ZCARD', KEYS[3]) >= slots then
    if tpm >= 0 then tokens = redis.call('DECRBY', KEYS[2], points) end
    return {3, requests, requestsTtl, tokens, tokensTtl}
  end
  redis.call('ZADD', KEYS[3], now, ARGV[7])
  redis.call('PEXPIRE', KEYS[3], slotTtl)
end
return {0, requests, requestsTtl, tokens, tokensTtl}`;

// KEYS: tokens, slots. ARGV: the tokens' correction, the slot's holder ('' for none), window.
const RELEASE = `
local delta = tonumber(ARGV[1])
if delta > 0 then
  redis.call('INCRBY', KEYS[1], delta)
  if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
elseif delta < 0 then
  local refund = math.min(-delta, tonumber(redis.call('GET', KEYS[1]) or '0'))
  if refund > 0 then redis.call('DECRBY', KEYS[1], refund) end
end
if ARGV[2] ~= '' then redis.call('ZREM', KEYS[2], ARGV[2]) end
return 0`;

const REFUSALS = [undefined, 'requests', 'tokens', 'slots'] as const;

type Scripted = Redis & {
  tollgateTake(...args: Array<string | number>): Promise<number[]>;
};
type ScriptedPipeline = ReturnType<Redis['pipeline']> & {
  tollgateRelease(...args: Array<string | number>): ScriptedPipeline;
};


/** Limits every replica counts against: one script call takes a call's rate limits and slot; releases go in one pipeline. */
export class RedisLimitStore implements LimitStore {
  private readonly redis: Scripted;

  /** `keyPrefix`: before every key (`tollgate:`), so that two deployments can share one Redis. */
  constructor(
    client: Redis,
    private readonly keyPrefix = 'tollgate:',
  ) {
    client.defineCommand('tollgateTake', { numberOfKeys: 3, lua: TAKE });
    client.defineCommand('tollgateRelease', { numberOfKeys: 2, lua: RELEASE });
    this.redis = client as Scripted;
  }

  async take(take: LimitTake): Promise<LimitTakeOutcome> {
    const { tenantId, now, requestsPerMinute, tokensPerMinute, tokens, concurrentRequests, holder, slotTtlMs } = take;
    const none = (limit: number | null) => limit ?? -1;
    const [refused, requests, requestsTtl, tokenCount, tokensTtl] = await this.redis.tollgateTake(
      ...this.keysOf(tenantId),
      now, WINDOW_MS, none(requestsPerMinute), none(tokensPerMinute), tokens, none(concurrentRequests), holder, slotTtlMs,
    );
    return { refused: REFUSALS[refused], requests: { count: requests, resetMs: requestsTtl }, tokens: { count: tokenCount, resetMs: tokensTtl } };
  }

  async release(releases: LimitRelease[]): Promise<void> {
    const pipeline = this.redis.pipeline() as ScriptedPipeline;
    for (const { tenantId, tokensDelta, holder } of releases) {
      const [, tokens, slots] = this.keysOf(tenantId);
      pipeline.tollgateRelease(tokens, slots, tokensDelta, holder ?? '', WINDOW_MS);
    }
    await pipeline.exec();
  }

  /** A tenant's keys share a hash tag, so that one script can take them all on a Redis Cluster too. */
  private keysOf(tenantId: string): string[] {
    const tagged = `${this.keyPrefix}{${tenantId}}`;
    return [`${tagged}:requests`, `${tagged}:tokens`, `${tagged}:inflight`];
  }
}
