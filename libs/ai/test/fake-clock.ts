import { Clock } from '../src/common/clock';

/** A clock that only moves when a test moves it. */
export class FakeClock implements Clock {
  constructor(private nowMs = 1_700_000_000_000) {}

  now(): number {
    return this.nowMs;
  }

  advance(ms: number): void {
    this.nowMs += ms;
  }
}
