/** A pino destination that keeps every line the gateway logs, so that a suite can read them. */
export class CapturedLog {
  readonly lines: string[] = [];

  write(line: string): void {
    this.lines.push(line);
  }

  /** Every line as the JSON object pino wrote. */
  entries(): Array<Record<string, unknown>> {
    return this.lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  }

  /** The one-per-request lines. */
  requests(): Array<Record<string, unknown>> {
    return this.entries().filter((entry) => entry.msg === 'request completed' || entry.msg === 'request failed');
  }
}

/** pino's numeric levels. */
export const LOG_LEVEL = { info: 30, warn: 40, error: 50 } as const;
