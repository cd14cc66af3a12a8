/** A lease is topped up with enough for this many calls like the one that asked, when the quota has room for it. */
export const LEASE_CALLS = 64;
/** …but never more than this share of what is left, so that the last of a quota is leased a call at a time. */
export const LEASE_SHARE_OF_HEADROOM = 8;

export interface LeaseSizing {
  /** What the quota allows in its period. */
  limit: number;
  /** Spent and reserved in the period, and leased to any replica (this lease included). */
  committed: number;
  /** What this replica's lease still holds for new calls. */
  held: number;
  /** What the asking call needs. */
  need: number;
}

/**
 * How much to add to a lease so that it covers the asking call: its deficit at least, up to LEASE_CALLS
 * calls' worth while the quota has room, shrinking to exactly the deficit as the quota runs out;
 * undefined when even the deficit does not fit.
 */
export function leaseGrant({ limit, committed, held, need }: LeaseSizing): number | undefined {
  const deficit = Math.max(0, need - held);
  if (deficit === 0) return 0;
  const headroom = limit - committed;
  if (deficit > headroom) return undefined;
  const generous = Math.max(0, need * LEASE_CALLS - held);
  return Math.max(deficit, Math.min(generous, Math.floor(headroom / LEASE_SHARE_OF_HEADROOM)));
}
