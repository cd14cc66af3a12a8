import { Test } from '@nestjs/testing';
import { AiModule } from './ai.module';

describe('AiModule.forRootAsync', () => {
  it('should refuse options whose database the definition did not announce, and the other way round', async () => {
    const unannounced = AiModule.forRootAsync({ useFactory: () => ({ upstream: { apiKey: 'sk-test' }, database: { url: 'sqlite::memory:' } }) });
    const missing = AiModule.forRootAsync({ withDatabase: true, useFactory: () => ({ upstream: { apiKey: 'sk-test' } }) });

    await expect(Test.createTestingModule({ imports: [unannounced] }).compile()).rejects.toThrow(
      'AiModule.forRootAsync was given a `database` by its factory: define it with `withDatabase: true`',
    );
    await expect(Test.createTestingModule({ imports: [missing] }).compile()).rejects.toThrow('AiModule was defined `withDatabase: true`, but its options have no `database`');
  });
});
