import type { SecretScrubber } from '@tollgate/ai';
import type { DestinationStream } from 'pino';

/**
 * The last line of defence behind pino's `redact`, which only knows field paths: whatever a line
 * holds (a message, an error's stack, an upstream's words), no secret the gateway knows of, nor
 * anything shaped like a credential, is written. It scrubs the JSON line, before any pretty-printing.
 */
export function scrubbingDestination(scrubber: SecretScrubber, destination: DestinationStream): DestinationStream {
  return { write: (line: string) => destination.write(scrubber.scrub(line)) };
}
