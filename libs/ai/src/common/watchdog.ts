/**
 * One timer for a wait that repeats (the next chunk of a stream, the consumer's next read): armed
 * before each wait, disarmed after, it expires only while armed. A stream of 16,000 chunks keeps
 * one timer, re-armed, instead of making and clearing 16,000.
 */
export class Watchdog {
  private armed = false;
  private stopped = false;
  private readonly timer: NodeJS.Timeout;

  constructor(ms: number, onExpiry: () => void) {
    this.timer = setTimeout(() => {
      if (this.armed) onExpiry();
    }, ms);
  }

  /** Starts the wait: `onExpiry` runs unless `disarm` or `stop` comes within the time. Once stopped, it stays stopped. */
  arm(): void {
    if (this.stopped) return;
    this.armed = true;
    // Re-arms it from now, and brings it back if it already went off while disarmed.
    this.timer.refresh();
  }

  disarm(): void {
    this.armed = false;
  }

  stop(): void {
    this.armed = false;
    this.stopped = true;
    clearTimeout(this.timer);
  }
}
