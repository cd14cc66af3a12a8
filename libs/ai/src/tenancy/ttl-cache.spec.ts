import { FakeClock } from '../../test/fake-clock';
import { TtlCache } from './ttl-cache';

const TTL_MS = 1_000;

/** A promise the test settles when it chooses: a load held in flight. */
function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe(TtlCache.name, () => {
  let clock: FakeClock;
  let cache: TtlCache<string | null>;

  beforeEach(() => {
    clock = new FakeClock();
    cache = new TtlCache(clock, TTL_MS);
  });

  describe('getOrLoad', () => {
    it('should share one load among concurrent misses for a key, and cache what it found', async () => {
      const found = deferred<string>();
      const load = jest.fn(() => found.promise);

      const callers = Array.from({ length: 100 }, () => cache.getOrLoad('k', load));
      found.resolve('owner');

      expect(await Promise.all(callers)).toEqual(Array(100).fill('owner'));
      expect(load).toHaveBeenCalledTimes(1);
      expect(await cache.getOrLoad('k', load)).toBe('owner');
      expect(load).toHaveBeenCalledTimes(1);
    });

    it('should load each key on its own', async () => {
      const load = jest.fn(async (key: string) => `owner of ${key}`);

      const values = await Promise.all([cache.getOrLoad('a', () => load('a')), cache.getOrLoad('b', () => load('b'))]);

      expect(values).toEqual(['owner of a', 'owner of b']);
      expect(load).toHaveBeenCalledTimes(2);
    });

    it('should cache a null as a value', async () => {
      const load = jest.fn(async () => null);

      await cache.getOrLoad('k', load);

      expect(await cache.getOrLoad('k', load)).toBeNull();
      expect(load).toHaveBeenCalledTimes(1);
    });

    it('should give every waiting caller a failed load’s error, cache nothing, and let the next caller load again', async () => {
      const failed = deferred<string>();
      const load = jest.fn().mockReturnValueOnce(failed.promise).mockResolvedValueOnce('owner');

      const callers = [cache.getOrLoad('k', load), cache.getOrLoad('k', load)];
      failed.reject(new Error('database down'));

      await expect(callers[0]).rejects.toThrow('database down');
      await expect(callers[1]).rejects.toThrow('database down');
      expect(await cache.getOrLoad('k', load)).toBe('owner');
      expect(load).toHaveBeenCalledTimes(2);
    });

    it('should load again once the value is older than the TTL, counted from when it arrived', async () => {
      const load = jest.fn().mockResolvedValueOnce('first').mockResolvedValueOnce('second');
      await cache.getOrLoad('k', load);

      clock.advance(TTL_MS - 1);
      expect(await cache.getOrLoad('k', load)).toBe('first');
      clock.advance(1);
      expect(await cache.getOrLoad('k', load)).toBe('second');
    });

    it.each([
      ['delete', (c: TtlCache<string | null>) => c.delete('k')],
      ['deleteWhere', (c: TtlCache<string | null>) => c.deleteWhere((value) => value === 'stale')],
    ])('should not cache a load that %s overtook, and give later callers a fresh one', async (_, invalidate) => {
      const stale = deferred<string>();
      const load = jest.fn().mockReturnValueOnce(stale.promise).mockResolvedValue('fresh');
      const before = cache.getOrLoad('k', load);

      invalidate(cache);
      const after = cache.getOrLoad('k', load);
      stale.resolve('stale');

      // The caller that asked before the invalidation gets what its load read; no one after it does.
      expect(await before).toBe('stale');
      expect(await after).toBe('fresh');
      expect(await cache.getOrLoad('k', load)).toBe('fresh');
      expect(load).toHaveBeenCalledTimes(2);
    });

    it('should not let a load overtaken by an invalidation remove the load that replaced it', async () => {
      const stale = deferred<string>();
      const fresh = deferred<string>();
      const load = jest.fn().mockReturnValueOnce(stale.promise).mockReturnValueOnce(fresh.promise);
      void cache.getOrLoad('k', load);
      cache.delete('k');
      const replacing = cache.getOrLoad('k', load);

      stale.resolve('stale');
      await Promise.resolve();
      const joining = cache.getOrLoad('k', load);
      fresh.resolve('fresh');

      expect(await Promise.all([replacing, joining])).toEqual(['fresh', 'fresh']);
      expect(load).toHaveBeenCalledTimes(2);
    });
  });

  it('should forget the entries deleteWhere matches and keep the others', () => {
    cache.set('a', 'x');
    cache.set('b', 'y');

    cache.deleteWhere((value) => value === 'x');

    expect(cache.get('a')).toBeUndefined();
    expect(cache.get('b')).toBe('y');
  });
});
