import { Test } from '@nestjs/testing';
import { aChatCompletion, aChatRequest } from '../test/factories';
import { FakeUpstreamClient, respond } from '../test/fake-upstream-client';
import { CallRecord } from './telemetry/call-events';

/** The packages the resilient client must run without: each is an optional peer dependency of a feature of its own. */
const OPTIONAL_PACKAGES = ['typeorm', 'better-sqlite3', 'pg', 'ioredis', 'bullmq', '@aws-sdk/client-secrets-manager', '@azure/keyvault-secrets', '@azure/identity'];

/** The library as loaded where none of the optional packages is installed (each `require` of one throws, as then). */
type Library = typeof import('./index') & Pick<typeof import('./persistence/database'), 'Database'>;

function libraryWithoutOptionalPackages(): Library {
  let library: Library | undefined;
  jest.isolateModules(() => {
    for (const name of OPTIONAL_PACKAGES) {
      jest.doMock(name, () => {
        throw new Error(`Cannot find module '${name}' from 'libs/ai/src'`);
      });
    }
    /* eslint-disable @typescript-eslint/no-require-imports */
    library = { ...(require('./index') as typeof import('./index')), Database: (require('./persistence/database') as typeof import('./persistence/database')).Database };
    /* eslint-enable @typescript-eslint/no-require-imports */
  });
  return library!;
}

describe('AiModule without a database', () => {
  afterEach(() => {
    for (const name of OPTIONAL_PACKAGES) jest.dontMock(name);
    jest.resetModules();
    jest.useRealTimers();
  });

  it('should answer chat calls with none of the optional packages installed, and announce each call', async () => {
    const library = libraryWithoutOptionalPackages();
    const upstream = new FakeUpstreamClient().always(respond(aChatCompletion()));
    const moduleRef = await Test.createTestingModule({ imports: [library.AiModule.forRoot({ upstream: { apiKey: 'sk-test' } })] })
      .overrideProvider(library.UpstreamClient)
      .useValue(upstream)
      .compile();
    await moduleRef.init();
    const calls: CallRecord[] = [];
    moduleRef.get(library.CallEvents).onCallEnded((call) => calls.push(call));

    const { completion, attempts } = await moduleRef.get(library.AiService).chat(aChatRequest());

    expect(completion.choices[0].message.content).toBe(aChatCompletion().choices[0].message.content);
    expect(attempts).toBe(1);
    expect(calls).toEqual([expect.objectContaining({ tenantId: 'default', outcome: 'success', admitted: true })]);
    expect(() => moduleRef.get(library.Database)).toThrow();
    await moduleRef.close();
  });

  it('should start no poller, sweeper or evaluator', async () => {
    const library = libraryWithoutOptionalPackages();
    // Timers only: what is queued for the next tick or microtask is not a poller.
    jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask'] });
    const moduleRef = await Test.createTestingModule({ imports: [library.AiModule.forRoot({ upstream: { apiKey: 'sk-test' } })] }).compile();
    await moduleRef.init();

    expect(jest.getTimerCount()).toBe(0);
    await moduleRef.close();
  });

  it('should refuse options that would do nothing without a database, rather than ignore them', async () => {
    const library = libraryWithoutOptionalPackages();
    const options = { upstream: { apiKey: 'sk-test' }, plans: { default: { costPerMonthUsd: 5 } }, redis: { url: 'redis://127.0.0.1:6379' } };

    await expect(Test.createTestingModule({ imports: [library.AiModule.forRoot(options)] }).compile()).rejects.toThrow(
      "AiModule's plans, redis apply to tenants, whose limits, quotas and jobs are kept in the database: give it a `database`",
    );
  });

  it('should refuse a job, which is kept in the database, with an error that says so', async () => {
    const library = libraryWithoutOptionalPackages();
    const moduleRef = await Test.createTestingModule({ imports: [library.AiModule.forRoot({ upstream: { apiKey: 'sk-test' } })] }).compile();

    expect(() => moduleRef.get(library.AiService).submit(aChatRequest(), { tenantId: 'acme' })).toThrow(
      'asynchronous jobs are kept in the database: give AiModule a `database`',
    );
    await moduleRef.close();
  });

  it('should name the package to install when a database is asked for without TypeORM', () => {
    const library = libraryWithoutOptionalPackages();

    expect(() => library.AiModule.forRoot({ upstream: { apiKey: 'sk-test' }, database: { url: 'sqlite::memory:' } })).toThrow(
      "The package typeorm is needed for Tollgate's database (the `database` option) and is not installed: npm install typeorm",
    );
  });

  it('should name the package to install when Redis is asked for without ioredis', () => {
    let connect: (() => unknown) | undefined;
    jest.isolateModules(() => {
      jest.doMock('ioredis', () => {
        throw new Error("Cannot find module 'ioredis' from 'libs/ai/src'");
      });
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { RedisConnection } = require('./limits/redis-connection') as typeof import('./limits/redis-connection');
      connect = () => new RedisConnection({ url: 'redis://127.0.0.1:6379', keyPrefix: 'tollgate:' });
    });

    expect(connect).toThrow('The package ioredis is needed for limits shared across replicas (the `redis` option) and is not installed: npm install ioredis');
  });
});
