import { Clock } from '../common/clock';

/** A small map whose entries expire; bounded, so that a flood of distinct keys cannot grow it without end. */
export class TtlCache<T> {
  private readonly entries = new Map<string, { value: T; expiresAt: number }>();
  /** Loads in flight, one per key; a load that an invalidation overtook is dropped from here and never cached. */
  private readonly loads = new Map<string, Promise<T>>();

  constructor(
    private readonly clock: Clock,
    private readonly ttlMs: number,
    private readonly maxEntries = 10_000,
  ) {}

  get(key: string): T | undefined {
    return this.fresh(key)?.value;
  }

  /**
   * The cached value, or the one `load` finds, cached from when it arrives. Concurrent misses for a key
   * share one load. A failed load is not cached: the next caller loads again. A load that `delete` or
   * `deleteWhere` overtook is not cached either, and later callers start their own: what it read may
   * predate the change the invalidation announced.
   */
  getOrLoad(key: string, load: (key: string) => Promise<T>): Promise<T> {
    const cached = this.fresh(key);
    if (cached) return Promise.resolve(cached.value);
    const inFlight = this.loads.get(key);
    if (inFlight) return inFlight;
    const loading: Promise<T> = load(key)
      .then((value) => {
        if (this.loads.get(key) === loading) this.set(key, value);
        return value;
      })
      .finally(() => {
        if (this.loads.get(key) === loading) this.loads.delete(key);
      });
    this.loads.set(key, loading);
    return loading;
  }

  set(key: string, value: T): void {
    if (this.entries.size >= this.maxEntries) this.entries.clear();
    this.entries.set(key, { value, expiresAt: this.clock.now() + this.ttlMs });
  }

  delete(key: string): void {
    this.entries.delete(key);
    this.loads.delete(key);
  }

  /** Forgets every entry whose value matches, and every load in flight: its value is not known yet. */
  deleteWhere(matches: (value: T) => boolean): void {
    for (const [key, entry] of this.entries) if (matches(entry.value)) this.entries.delete(key);
    this.loads.clear();
  }

  private fresh(key: string): { value: T } | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt > this.clock.now()) return entry;
    this.entries.delete(key);
    return undefined;
  }
}
