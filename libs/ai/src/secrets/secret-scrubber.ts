export const REDACTED = '[redacted]';

/** Below this length a "secret" is a test placeholder, and scrubbing it would mangle ordinary words. */
const MIN_SECRET_LENGTH = 8;

/** Credentials by their shape, whoever issued them: a bearer credential, an OpenAI key, a Tollgate tenant key. */
const SECRET_SHAPES: ReadonlyArray<readonly [pattern: RegExp, replacement: string]> = [
  // RFC 6750's b64token alphabet: it stops at quotes and backslashes, so a JSON line keeps its structure;
  // 8 characters at least, so that "the bearer of the token" stays prose.
  [/\bBearer\s+[A-Za-z0-9._~+/-]{8,}=*/gi, `Bearer ${REDACTED}`],
  [/(?<![A-Za-z0-9_-])sk-[A-Za-z0-9_-]{8,}/g, REDACTED],
  [/(?<![A-Za-z0-9_-])tg-[A-Za-z0-9_-]{40}(?![A-Za-z0-9_-])/g, REDACTED],
];

/**
 * Removes secrets from text bound for a tenant or a log line: every known secret whole (as
 * written and as JSON escapes it), then anything shaped like a credential.
 */
export class SecretScrubber {
  /** The known secrets last asked for, and the list made of them. */
  private last?: { known: ReadonlyArray<string | undefined>; secrets: string[] };

  /** `knownSecrets` is asked on every call, so that a rotated key is scrubbed from then on. */
  constructor(private readonly knownSecrets: () => ReadonlyArray<string | undefined> = () => []) {}

  scrub(text: string): string {
    let scrubbed = text;
    for (const secret of this.secrets()) scrubbed = scrubbed.replaceAll(secret, REDACTED);
    for (const [pattern, replacement] of SECRET_SHAPES) scrubbed = scrubbed.replace(pattern, replacement);
    return scrubbed;
  }

  /** A scrubber that also knows `more`. */
  with(more: () => ReadonlyArray<string | undefined>): SecretScrubber {
    return new SecretScrubber(() => [...this.knownSecrets(), ...more()]);
  }

  /** The secrets to replace, worked out again only when the known ones change (a rotation): this runs on every log line. */
  private secrets(): string[] {
    const known = this.knownSecrets();
    if (this.last && sameSecrets(this.last.known, known)) return this.last.secrets;
    const usable = known.filter((secret): secret is string => secret !== undefined && secret.length >= MIN_SECRET_LENGTH);
    const escaped = usable.map((secret) => JSON.stringify(secret).slice(1, -1));
    // Longest first: a secret that contains another is replaced whole.
    const secrets = [...new Set([...usable, ...escaped])].sort((a, b) => b.length - a.length);
    this.last = { known: [...known], secrets };
    return secrets;
  }
}

function sameSecrets(a: ReadonlyArray<string | undefined>, b: ReadonlyArray<string | undefined>): boolean {
  return a.length === b.length && a.every((secret, i) => secret === b[i]);
}
