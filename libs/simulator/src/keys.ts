import { createHash } from 'node:crypto';
import type { AcceptedKey } from './types';

export const DEFAULT_ORGANIZATION = 'org-simulator';
export const DEFAULT_PROJECT = 'proj_simulator';

/** Who a presented key is: whether it is accepted, what the calls record of it, whom it answers for. */
export interface KeyIdentity {
  accepted: boolean;
  /** The accepted key's label, else its fingerprint; undefined when no key came. */
  label?: string;
  organization: string;
  project: string;
}

/** A stable stand-in for a key in the call records, which never hold the key itself. */
export function keyFingerprint(key: string): string {
  return `key_${createHash('sha256').update(key).digest('hex').slice(0, 12)}`;
}

/** The accepted keys, or none given: then any key (and no key) is accepted. */
export class KeyRing {
  private readonly byKey: ReadonlyMap<string, AcceptedKey> | undefined;

  constructor(keys: readonly AcceptedKey[] | undefined) {
    this.byKey = keys && new Map(keys.map((entry) => [entry.key, entry]));
  }

  identify(key: string | undefined): KeyIdentity {
    const entry = key === undefined ? undefined : this.byKey?.get(key);
    return {
      accepted: this.byKey === undefined || entry !== undefined,
      label: entry?.label ?? (key === undefined ? undefined : keyFingerprint(key)),
      organization: entry?.organization ?? DEFAULT_ORGANIZATION,
      project: entry?.project ?? DEFAULT_PROJECT,
    };
  }
}
