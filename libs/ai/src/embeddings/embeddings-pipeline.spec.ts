import { AiService } from '../ai.service';
import type { CallRecord } from '../telemetry/call-events';
import { TenantService } from '../tenancy/tenant.service';
import { AiTestingModule, createAiTestingModule } from '../../test/ai-testing-module';
import { anEmbeddingResponse, IN_MEMORY_DATABASE } from '../../test/factories';
import { FakeUpstreamClient, respond } from '../../test/fake-upstream-client';
import { EmbeddingsPipeline } from './embeddings-pipeline';

describe(EmbeddingsPipeline.name, () => {
  let testing: AiTestingModule;
  let upstream: FakeUpstreamClient;
  let ai: AiService;
  let ended: CallRecord[];
  const context = () => ({ tenantId: 'acme', onCallEnded: (record: CallRecord) => ended.push(record) });

  beforeEach(async () => {
    ended = [];
    testing = await createAiTestingModule({ database: IN_MEMORY_DATABASE });
    ({ upstream, ai } = testing);
    await testing.moduleRef.get(TenantService).create({ id: 'acme', name: 'Acme' });
  });
  afterEach(() => testing.moduleRef.close());

  it('should embed, and bill the input tokens the upstream reported at the model’s input price', async () => {
    upstream.always(respond(anEmbeddingResponse(5_000, 2)));

    const result = await ai.embed({ model: 'text-embedding-3-small', input: ['one', 'two'] }, context());

    expect(result).toMatchObject({ model: 'text-embedding-3-small', attempts: 1, embeddings: { data: [{ index: 0 }, { index: 1 }] } });
    expect(upstream.calls[0]).toMatchObject({ method: 'createEmbeddings', endpointBody: { model: 'text-embedding-3-small', input: ['one', 'two'] } });
    // 5,000 tokens at $0.02 per million
    expect(ended).toEqual([expect.objectContaining({ endpoint: 'embeddings', outcome: 'success', promptTokens: 5_000, completionTokens: 0, costUsd: 0.0001 })]);
  });

  it('should reserve the input tokens, counted with the model’s tokenizer, and refuse an input the quota cannot hold', async () => {
    await testing.moduleRef.get(TenantService).setLimits('acme', { tokensPerMonth: 5 });
    upstream.always(respond(anEmbeddingResponse()));

    await expect(ai.embed({ model: 'text-embedding-3-small', input: 'one two three four five six seven' }, context())).rejects.toMatchObject({
      code: 'tenant_quota_exceeded',
    });
    await expect(ai.embed({ model: 'text-embedding-3-small', input: [[1, 2, 3]] }, context())).resolves.toMatchObject({ attempts: 1 });
    expect(upstream.calls).toHaveLength(1);
  });

  it('should refuse a model outside the tenant’s plan before the upstream is called', async () => {
    await testing.moduleRef.get(TenantService).setLimits('acme', { allowedModels: ['gpt-4o-mini'] });

    await expect(ai.embed({ model: 'text-embedding-3-small', input: 'Hi' }, context())).rejects.toMatchObject({ code: 'model_not_allowed' });
    expect(upstream.calls).toHaveLength(0);
    expect(ended).toEqual([expect.objectContaining({ endpoint: 'embeddings', admitted: false, outcome: 'model_not_allowed' })]);
  });
});
