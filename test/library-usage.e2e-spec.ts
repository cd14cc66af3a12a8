import { Injectable, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { AiModule, AiService, UpstreamUnavailableError } from '@tollgate/ai';
import { RunningSimulator, startSimulator } from '@tollgate/simulator';

/** A user's own service, in a plain Nest application with none of the gateway's controllers. */
@Injectable()
class GreetingService {
  constructor(private readonly ai: AiService) {}

  async greet(name: string): Promise<string> {
    const { completion } = await this.ai.chat(
      { model: 'gpt-4o-mini', messages: [{ role: 'user', content: `Greet ${name}.` }] },
      { tenantId: 'acme' },
    );
    return completion.choices[0].message.content ?? '';
  }

  async greetWordByWord(name: string): Promise<string[]> {
    const stream = await this.ai.chatStream(
      { model: 'gpt-4o-mini', messages: [{ role: 'user', content: `Greet ${name}.` }] },
      { tenantId: 'acme' },
    );
    const words: string[] = [];
    for await (const chunk of stream) {
      const content = chunk.choices[0]?.delta.content;
      if (content) words.push(content);
    }
    return words;
  }
}

describe('AiModule in a plain NestJS application', () => {
  let simulator: RunningSimulator;

  beforeAll(async () => {
    simulator = await startSimulator();
  });
  afterAll(() => simulator.close());
  beforeEach(() => simulator.reset());

  async function appWith(ai: ReturnType<typeof AiModule.forRoot> | ReturnType<typeof AiModule.forRootAsync>) {
    @Module({ imports: [ai], providers: [GreetingService] })
    class UserAppModule {}
    const moduleRef = await Test.createTestingModule({ imports: [UserAppModule] }).compile();
    await moduleRef.init();
    return moduleRef;
  }

  it('should answer through AiService.chat with forRoot', async () => {
    const app = await appWith(AiModule.forRoot({ upstream: { baseURL: simulator.url, apiKey: 'sk-user-app' } }));

    const greeting = await app.get(GreetingService).greet('Ada');

    expect(greeting.length).toBeGreaterThan(0);
    expect(simulator.calls()).toHaveLength(1);
    await app.close();
  });

  it('should stream through AiService.chatStream with forRootAsync', async () => {
    const app = await appWith(
      AiModule.forRootAsync({ useFactory: async () => ({ upstream: { baseURL: simulator.url, apiKey: 'sk-user-app' } }) }),
    );

    const words = await app.get(GreetingService).greetWordByWord('Ada');

    expect(words.length).toBeGreaterThan(1);
    await app.close();
  });

  it('should apply the same policies: retries, then a typed error', async () => {
    simulator.enqueueFaults({ preset: 'server_error', times: 10 });
    const app = await appWith(
      AiModule.forRoot({
        upstream: { baseURL: simulator.url, apiKey: 'sk-user-app' },
        retry: { maxAttempts: 2, baseDelayMs: 1 },
      }),
    );

    await expect(app.get(GreetingService).greet('Ada')).rejects.toBeInstanceOf(UpstreamUnavailableError);
    expect(simulator.calls()).toHaveLength(2);
    await app.close();
  });

  it('should make AiService available everywhere with isGlobal', async () => {
    @Module({ providers: [GreetingService] })
    class FeatureModule {}
    const moduleRef = await Test.createTestingModule({
      imports: [AiModule.forRoot({ isGlobal: true, upstream: { baseURL: simulator.url, apiKey: 'sk-user-app' } }), FeatureModule],
    }).compile();

    expect(moduleRef.get(GreetingService)).toBeInstanceOf(GreetingService);
    await moduleRef.close();
  });
});
