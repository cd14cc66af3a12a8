import { ConsoleLogger } from '@nestjs/common';

/** A Nest logger that keeps every line it is given, so that a suite can read what the gateway logged. */
export class CapturedLogger extends ConsoleLogger {
  readonly lines: string[] = [];

  constructor() {
    super('Tollgate', { timestamp: false });
  }

  protected override printMessages(messages: unknown[], context = '', logLevel = 'log'): void {
    for (const message of messages) this.lines.push(`${logLevel} [${context}] ${stringify(message)}`);
  }

  protected override printStackTrace(stack: string | undefined): void {
    if (stack) this.lines.push(stack);
  }
}

function stringify(message: unknown): string {
  if (message instanceof Error) return `${message.message}\n${message.stack ?? ''}`;
  return typeof message === 'string' ? message : JSON.stringify(message);
}
