import { Logger } from '@nestjs/common';
import { DependencyStatus, failureOf } from './dependency-status';

describe(DependencyStatus.name, () => {
  let warnings: jest.SpyInstance;
  let infos: jest.SpyInstance;

  beforeEach(() => {
    warnings = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    infos = jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
  });
  afterEach(() => jest.restoreAllMocks());

  const aStatus = () => new DependencyStatus('database', 'calls that need it are refused');

  it('should start up, and log one line when the dependency goes however many calls fail, and one when it is back', () => {
    const status = aStatus();
    expect(status.up).toBe(true);

    for (let i = 0; i < 100; i++) status.unreachable('ECONNREFUSED');
    expect(status.up).toBe(false);
    for (let i = 0; i < 100; i++) status.reachable();

    expect(status.up).toBe(true);
    expect(warnings.mock.calls).toEqual([['database unreachable (ECONNREFUSED): calls that need it are refused']]);
    expect(infos.mock.calls).toEqual([['database reachable again']]);
  });

  it('should tell its listeners each change, once', () => {
    const status = aStatus();
    const seen: boolean[] = [];
    status.onChange((up) => seen.push(up));

    status.reachable();
    status.unreachable('ECONNRESET');
    status.unreachable('ECONNREFUSED');
    status.reachable();

    expect(seen).toEqual([false, true]);
  });
});

describe('failureOf', () => {
  it('should name the code and the message of the driver’s error, unwrapped', () => {
    const error = Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' });

    expect(failureOf({ message: 'wrapped', driverError: error })).toBe('57P01 terminating connection due to administrator command');
    expect(failureOf(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' }))).toBe('connect ECONNREFUSED 127.0.0.1:6379');
  });

  it('should cut the credentials out of a URL in the message', () => {
    expect(failureOf(new Error('could not connect to redis://:s3cret@cache:6379/0'))).toBe('could not connect to redis://[redacted]@cache:6379/0');
  });
});
