import { createHash } from 'node:crypto';

/** One version of a secret. */
export interface SecretVersion {
  value: string;
  /** The store's version id, or a fingerprint where the store has none. */
  version: string;
}

/** Where the upstream API key is read from; implementations never log or reveal the value. */
export interface SecretProvider {
  /** Names the provider and the secret for messages, never the value: `aws secret prod/openai (key apiKey)`. */
  readonly description: string;
  /** Reads the current version; throws `SecretUnavailableError` when it cannot. */
  read(): Promise<SecretVersion>;
  /** Calls `onChange` when the secret may have changed (a mounted file rewritten); returns a stop function. */
  watch?(onChange: () => void): () => void;
  /** The value can never change (a key given as such): it is not read again on a timer. */
  readonly fixed?: boolean;
}

export const SecretProvider = Symbol('SecretProvider');

export type SecretFailure = 'not_found' | 'access_denied' | 'throttled' | 'timeout' | 'empty' | 'unreachable';

/** A secret could not be read; the message names the secret and the cause, never a value. */
export class SecretUnavailableError extends Error {
  constructor(
    readonly failure: SecretFailure,
    readonly description: string,
    detail: string,
  ) {
    super(`Could not read the upstream key from ${description}: ${detail}`);
    this.name = 'SecretUnavailableError';
  }
}

/** The short, one-way name under which a key may appear anywhere: the first 12 hex digits of its SHA-256. */
export function fingerprintOf(value: string): string {
  return createHash('sha256').update(value).digest('hex').slice(0, 12);
}

/** A key given as a value (the `env` provider: the application read OPENAI_API_KEY and passed it in). */
export class StaticSecretProvider implements SecretProvider {
  readonly fixed = true;

  constructor(
    private readonly value: string,
    readonly description = 'the configured API key',
  ) {}

  async read(): Promise<SecretVersion> {
    const value = this.value.trim();
    if (!value) throw new SecretUnavailableError('empty', this.description, 'it is empty');
    return { value, version: fingerprintOf(value) };
  }
}
