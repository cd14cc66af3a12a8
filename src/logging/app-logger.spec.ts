import { Logger } from '@nestjs/common';
import pino from 'pino';
import { CapturedLog } from '../../test/support/captured-log';
import { AppLogger } from './app-logger';

describe(AppLogger.name, () => {
  let log: CapturedLog;

  beforeEach(() => {
    log = new CapturedLog();
    Logger.overrideLogger(new AppLogger(pino({ level: 'info', base: undefined, timestamp: false }, log)));
  });
  afterAll(() => Logger.overrideLogger(false));

  it("should write a line with the caller's context", () => {
    new Logger('Upstream').warn('the key is about to expire');

    expect(log.entries()).toEqual([{ level: 40, context: 'Upstream', msg: 'the key is about to expire' }]);
  });

  it('should leave out the context of a logger that has none', () => {
    new Logger().log('listening');

    expect(log.entries()).toEqual([{ level: 30, msg: 'listening' }]);
  });

  it("should merge an object's fields into the line", () => {
    new Logger('Jobs').log({ jobId: 'job-1', attempts: 2 });

    expect(log.entries()).toEqual([{ level: 30, context: 'Jobs', jobId: 'job-1', attempts: 2 }]);
  });

  it('should log an error under err, its message as the message', () => {
    new Logger('Jobs').error(new Error('the queue is gone'));

    expect(log.entries()).toEqual([
      { level: 50, context: 'Jobs', err: { type: 'Error', message: 'the queue is gone', stack: expect.stringContaining('the queue is gone') }, msg: 'the queue is gone' },
    ]);
  });

  it("should log the stack Nest's exception handlers pass after the message as the error's", () => {
    new Logger('ExceptionsHandler').error('request r-1 failed unexpectedly', 'TypeError: x is undefined\n    at handler (app.js:1:1)');

    expect(log.entries()).toEqual([
      {
        level: 50,
        context: 'ExceptionsHandler',
        err: { type: 'Error', message: 'request r-1 failed unexpectedly', stack: 'TypeError: x is undefined\n    at handler (app.js:1:1)' },
        msg: 'request r-1 failed unexpectedly',
      },
    ]);
  });

  it("should write Nest's start-up lines at debug, its other lines as they come", () => {
    Logger.overrideLogger(new AppLogger(pino({ level: 'debug', base: undefined, timestamp: false }, log)));
    new Logger('RouterExplorer').log('Mapped {/v1/models, GET} route');
    new Logger('InstanceLoader').log('AppModule dependencies initialized');
    new Logger('NestApplication').error('Nest could not start');

    expect(log.entries().map(({ level, context }) => ({ level, context }))).toEqual([
      { level: 20, context: 'RouterExplorer' },
      { level: 20, context: 'InstanceLoader' },
      { level: 50, context: 'NestApplication' },
    ]);
  });

  it('should map verbose to trace and skip levels below the logger’s', () => {
    new Logger('Ctx').verbose('very detailed');
    new Logger('Ctx').debug('detailed');
    new Logger('Ctx').fatal('the end');

    expect(log.entries()).toEqual([{ level: 60, context: 'Ctx', msg: 'the end' }]);
  });
});
