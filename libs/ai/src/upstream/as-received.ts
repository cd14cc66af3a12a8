/**
 * The JSON text an upstream chunk arrived as, so that a relay can send it on as received instead of
 * serialising the parsed object again. Chunks are never changed on their way: one that were would have
 * to be a new object, which has no text here and is serialised.
 */
const received = new WeakMap<object, string>();

export function rememberAsReceived<T extends object>(chunk: T, json: string): T {
  // A data field spread over several lines would break the framing of one `data:` line.
  if (!json.includes('\n')) received.set(chunk, json);
  return chunk;
}

/** The chunk as JSON: the text it arrived as, if known. */
export function jsonOf(chunk: object): string {
  return received.get(chunk) ?? JSON.stringify(chunk);
}
