import type { SecretScrubber } from '@tollgate/ai';
import pino, { DestinationStream } from 'pino';

/**
 * The last line of defence behind pino's `redact`, which only knows field paths: whatever a line
 * holds (a message, an error's stack, an upstream's words), no secret the gateway knows of, nor
 * anything shaped like a credential, is written.
 */
export function scrubbingDestination(scrubber: SecretScrubber, destination: DestinationStream = stdout()): DestinationStream {
  return { write: (line: string) => destination.write(scrubber.scrub(line)) };
}

/** What pino writes to when given no stream: stdout, asynchronously, flushed on exit. */
function stdout(): DestinationStream {
  return pino.destination({ fd: 1, sync: false });
}
