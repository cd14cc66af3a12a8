import { AiTestingModule, createAiTestingModule } from '../../test/ai-testing-module';
import { collect } from '../../test/async';
import { aChatCompletion, aChatCompletionChunk, aChatRequest, IN_MEMORY_DATABASE } from '../../test/factories';
import { FakeUpstreamClient, respond, stream } from '../../test/fake-upstream-client';
import { UpstreamKind } from '../upstream/upstream-pool-options';

const context = { tenantId: 'tenant-1' };

/** What the request sent upstream looks like, by the kind of upstream it goes to. */
describe('ChatPipeline and the kind of upstream', () => {
  let testing: AiTestingModule;
  let upstream: FakeUpstreamClient;

  afterEach(async () => {
    await testing?.moduleRef.close();
  });

  async function setUp(kind: UpstreamKind): Promise<void> {
    testing = await createAiTestingModule({
      upstream: undefined,
      upstreams: [{ name: 'main', kind, baseURL: 'http://upstream.test/v1', keys: [{ apiKey: 'sk-test' }] }],
      database: IN_MEMORY_DATABASE,
      plans: { default: { defaultCompletionTokens: 64 } },
    });
    upstream = testing.upstream;
    upstream.script('gpt-4o', respond(aChatCompletion()));
  }

  it('should write the plan\'s completion allowance as max_completion_tokens for OpenAI', async () => {
    await setUp('openai');

    await testing.ai.chat(aChatRequest(), context);

    expect(upstream.calls[0].body).toMatchObject({ max_completion_tokens: 64 });
    expect(upstream.calls[0].body).not.toHaveProperty('max_tokens');
  });

  it('should write it as max_tokens for a compatible host, which may not know max_completion_tokens', async () => {
    await setUp('openai-compatible');

    await testing.ai.chat(aChatRequest(), context);

    expect(upstream.calls[0].body).toMatchObject({ max_tokens: 64 });
    expect(upstream.calls[0].body).not.toHaveProperty('max_completion_tokens');
  });

  it('should leave a limit the tenant named as it is, for a compatible host too', async () => {
    await setUp('openai-compatible');

    await testing.ai.chat(aChatRequest({ max_completion_tokens: 10 }), context);

    expect(upstream.calls[0].body).toMatchObject({ max_completion_tokens: 10 });
  });

  it.each<[UpstreamKind, unknown]>([
    ['openai', { include_usage: true }],
    ['azure', { include_usage: true }],
    ['openai-compatible', undefined],
  ])('should ask a stream of %s for its usage only where Tollgate may add stream_options', async (kind, streamOptions) => {
    await setUp(kind);
    upstream.script('gpt-4o', stream([aChatCompletionChunk('Hi')]));

    await collect(await testing.ai.chatStream(aChatRequest(), context));

    expect(upstream.calls[0].body?.stream_options).toEqual(streamOptions);
  });
});
