import pino, { DestinationStream } from 'pino';
import { isColorSupported, prettyFactory } from 'pino-pretty';

/** How a line reads on stdout: one JSON object, for a log pipeline, or pino-pretty's line, for a person at a terminal. */
export type LogFormat = 'json' | 'pretty';

/** stdout in `format`, written asynchronously and flushed on exit. */
export function stdoutIn(format: LogFormat): DestinationStream {
  const stdout = pino.destination({ fd: 1, sync: false });
  return format === 'pretty' ? prettyDestination(stdout, isColorSupported) : stdout;
}

/**
 * Each JSON line as one readable line: the time, the level, `[context] message`, and the line's other
 * fields inline after it (an error's stack below it).
 */
export function prettyDestination(destination: DestinationStream, colorize = false): DestinationStream {
  const prettify = prettyFactory({
    colorize,
    singleLine: true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,context',
    messageFormat: '{if context}[{context}] {end}{msg}',
  });
  return { write: (line: string) => destination.write(prettify(line)) };
}
