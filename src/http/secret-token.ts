import { createHash, timingSafeEqual } from 'node:crypto';

/** A token a caller must present (the admin token, the metrics token), compared in constant time. */
export class SecretToken {
  private readonly digest: Buffer;

  constructor(value: string) {
    this.digest = sha256(value);
  }

  /** Digests have one length, so the comparison time tells nothing about the token's length or how much of it matched. */
  matches(candidate: string): boolean {
    return timingSafeEqual(sha256(candidate), this.digest);
  }
}

function sha256(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
