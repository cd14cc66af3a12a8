import { useFakeTime } from '../../test/async';
import { Watchdog } from './watchdog';

describe(Watchdog.name, () => {
  beforeEach(() => useFakeTime());
  afterEach(() => jest.useRealTimers());

  it('should expire only while armed, counting each wait from its arming', () => {
    const expired = jest.fn();
    const watchdog = new Watchdog(100, expired);

    watchdog.arm();
    jest.advanceTimersByTime(99);
    watchdog.disarm();
    jest.advanceTimersByTime(500);
    watchdog.arm();
    jest.advanceTimersByTime(99);
    expect(expired).not.toHaveBeenCalled();

    jest.advanceTimersByTime(1);
    expect(expired).toHaveBeenCalledTimes(1);
    watchdog.stop();
  });

  it('should come back after it went off while disarmed, and never after stop', () => {
    const expired = jest.fn();
    const watchdog = new Watchdog(100, expired);
    jest.advanceTimersByTime(150);

    watchdog.arm();
    jest.advanceTimersByTime(100);
    watchdog.arm();
    watchdog.stop();
    jest.advanceTimersByTime(1_000);

    expect(expired).toHaveBeenCalledTimes(1);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('should stay stopped when armed after stop', () => {
    const expired = jest.fn();
    const watchdog = new Watchdog(100, expired);

    watchdog.stop();
    watchdog.arm();
    jest.advanceTimersByTime(1_000);

    expect(expired).not.toHaveBeenCalled();
    expect(jest.getTimerCount()).toBe(0);
  });
});
