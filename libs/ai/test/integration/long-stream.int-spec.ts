import { aChatCompletionChunk, aChatRequest } from '../factories';
import { collect, track, useFakeTime } from '../async';
import { FakeClock } from '../fake-clock';
import { stream } from '../fake-upstream-client';
import { aTenant, query, Replica, startReplica } from './replica';

const MINUTE_MS = 60_000;
const RESERVATION_TTL_MS = 5 * MINUTE_MS;
const CHUNK_GAP_MS = 50_000;

/** Follows jest's fake time, so that the clock the quotas read and the timers that renew and sweep agree. */
class FakeTimersClock extends FakeClock {
  override now(): number {
    return Date.now();
  }
}

describe('A stream that outlives the reservation TTL', () => {
  let replica: Replica;

  beforeEach(async () => {
    useFakeTime();
    replica = await startReplica({
      clock: new FakeTimersClock(),
      database: { url: 'sqlite::memory:' },
      timeouts: { streamIdleMs: 2 * MINUTE_MS },
      tenancy: { reservationTtlMs: RESERVATION_TTL_MS, sweepIntervalMs: 30_000 },
    });
  });

  afterEach(async () => {
    await replica.close();
    jest.useRealTimers();
  });

  it('should keep its reservation while it runs, so that its budget is never admitted twice', async () => {
    const tenant = await aTenant(replica, { tokensPerMonth: 1_000 });
    // Chunks 50 s apart (inside the first-byte timeout): the stream runs for 7.5 minutes, past the five-minute TTL.
    const chunks = Array.from({ length: 8 }, (_, i) => aChatCompletionChunk(`word${i} `));
    const usage = aChatCompletionChunk('', { choices: [], usage: { prompt_tokens: 8, completion_tokens: 500, total_tokens: 508 } });
    replica.upstream.script('gpt-4o', stream([...chunks, usage], { gapMs: CHUNK_GAP_MS }));

    const opening = track(replica.ai.chatStream(aChatRequest({ max_tokens: 600 }), { tenantId: tenant.id }));
    await jest.advanceTimersByTimeAsync(CHUNK_GAP_MS);
    const relayed = track(collect(opening.value!));
    await jest.advanceTimersByTimeAsync(RESERVATION_TTL_MS + MINUTE_MS);

    const second = track(replica.ai.chat(aChatRequest({ max_tokens: 600 }), { tenantId: tenant.id }));
    await jest.advanceTimersByTimeAsync(0);
    await expect(second.rejection()).resolves.toMatchObject({ code: 'tenant_quota_exceeded', quota: 'tokens_per_month' });
    await jest.advanceTimersByTimeAsync(3 * MINUTE_MS);
    expect(relayed.value).toHaveLength(8);
    await replica.governance.drain();

    expect(await replica.quota.usage(tenant.id, replica.clock.now())).toMatchObject({ requestsToday: 1, tokensThisMonth: 508 });
    expect(await query(replica.database, 'SELECT outcome, completion_tokens FROM tollgate_usage_ledger WHERE tenant_id = $1', [tenant.id])).toEqual([
      { outcome: 'success', completion_tokens: 500 },
    ]);
  });
});
