import { AiService } from '../ai.service';
import type { CallRecord } from '../telemetry/call-events';
import { AiTestingModule, createAiTestingModule } from '../../test/ai-testing-module';
import { collect, useFakeTime } from '../../test/async';
import { aResponse, aResponseUsage, anApiError, IN_MEMORY_DATABASE, responseEventsOf } from '../../test/factories';
import { fail, FakeUpstreamClient, respond, responseEvents } from '../../test/fake-upstream-client';
import { TenantService } from '../tenancy/tenant.service';
import { UpstreamTimeoutError } from '../errors/ai-errors';
import { RESPONSE_FAILED_OUTCOME, ResponsesPipeline } from './responses-pipeline';
import { meteredResponse } from './metered-response';
import { ModelRegistry } from '../context/model-registry';
import { Pricing } from '../context/pricing';
import { DEFAULT_MODELS } from '../context/default-models';
import { Governance } from '../tenancy/governance';

// gpt-4o: $2.50 input, $1.25 cached input, $10.00 output per million tokens.
const request = { model: 'gpt-4o', input: 'Say hello.' };

describe(ResponsesPipeline.name, () => {
  let testing: AiTestingModule;
  let upstream: FakeUpstreamClient;
  let ai: AiService;
  let ended: CallRecord[];
  const context = () => ({ tenantId: 'acme', requestId: 'req-1', onCallEnded: (record: CallRecord) => ended.push(record) });

  beforeEach(async () => {
    useFakeTime();
    ended = [];
    testing = await createAiTestingModule({ database: IN_MEMORY_DATABASE, timeouts: { streamIdleMs: 1_000 } });
    ({ upstream, ai } = testing);
    await testing.moduleRef.get(TenantService).create({ id: 'acme', name: 'Acme' });
  });
  afterEach(async () => {
    await testing.moduleRef.close();
    jest.useRealTimers();
  });

  describe('respond', () => {
    it('should answer the response and bill its usage, cached tokens at the cached price, reasoning within the output', async () => {
      upstream.always(respond(aResponse({ usage: aResponseUsage(1_000, 200, { cached: 600, reasoning: 150 }) })));

      const result = await ai.respond(request, context());

      expect(result).toMatchObject({ response: { id: 'resp_1' }, model: 'gpt-4o', attempts: 1 });
      expect(upstream.calls[0]).toMatchObject({ method: 'createResponse', endpointBody: { ...request, stream: false } });
      expect(ended).toEqual([
        expect.objectContaining({ endpoint: 'responses', outcome: 'success', promptTokens: 1_000, cachedTokens: 600, completionTokens: 200, reasoningTokens: 150 }),
      ]);
      // 400 × 2.50 + 600 × 1.25 + 200 × 10.00 micro-USD
      expect(ended[0].costUsd).toBe(0.00375);
    });

    it('should hand over a response the upstream answered as failed, and record it as a failure', async () => {
      upstream.always(respond(aResponse({ status: 'failed', error: { code: 'server_error', message: 'The model failed.' } })));

      const result = await ai.respond(request, context());

      expect(result.response.status).toBe('failed');
      expect(ended[0]).toMatchObject({ endpoint: 'responses', outcome: RESPONSE_FAILED_OUTCOME });
    });

    it('should reserve the input and max_output_tokens, and refuse what the quota cannot hold before calling the upstream', async () => {
      await testing.moduleRef.get(TenantService).setLimits('acme', { tokensPerMonth: 1_000 });
      upstream.always(respond(aResponse()));

      await expect(ai.respond({ ...request, max_output_tokens: 2_000 }, context())).rejects.toMatchObject({ code: 'tenant_quota_exceeded' });
      await expect(ai.respond({ ...request, max_output_tokens: 100 }, context())).resolves.toMatchObject({ model: 'gpt-4o' });
      expect(upstream.calls).toHaveLength(1);
    });

    it('should record an upstream failure with its attempts, as chat does', async () => {
      upstream.always(fail(anApiError(400)));

      await expect(ai.respond(request, context())).rejects.toMatchObject({ code: 'upstream_bad_request' });
      expect(ended[0]).toMatchObject({ endpoint: 'responses', outcome: 'upstream_bad_request', attempts: 1 });
    });
  });

  describe('respondStream', () => {
    it('should relay every event and bill the usage of response.completed once the stream ends', async () => {
      const events = responseEventsOf(['Hel', 'lo'], 'response.completed', aResponseUsage(20, 2, { cached: 10 }));
      upstream.always(responseEvents(events));

      const stream = await ai.respondStream(request, context());
      const relayed = await collect(stream);

      expect(relayed).toEqual(events);
      expect(upstream.calls[0]).toMatchObject({ method: 'streamResponse', endpointBody: { ...request, stream: true } });
      expect(ended).toEqual([expect.objectContaining({ endpoint: 'responses', stream: true, outcome: 'success', promptTokens: 20, cachedTokens: 10, completionTokens: 2 })]);
    });

    it('should relay a stream that ends in response.failed, and record it as a failure with the usage it reports', async () => {
      const events = responseEventsOf(['Hel'], 'response.failed', aResponseUsage(20, 1));
      upstream.always(responseEvents(events));

      const relayed = await collect(await ai.respondStream(request, context()));

      expect(relayed.at(-1)?.type).toBe('response.failed');
      expect(ended[0]).toMatchObject({ outcome: RESPONSE_FAILED_OUTCOME, promptTokens: 20, completionTokens: 1 });
    });

    it('should bill a stream that goes silent before its last event by its reserved input and the text relayed', async () => {
      const [created, ...deltas] = responseEventsOf(['Hello', ' world']);
      upstream.always(responseEvents([created, deltas[0], deltas[1]], { then: 'silence' }));

      const stream = await ai.respondStream(request, context());
      const reading = collect(stream).catch((error: unknown) => error);
      await jest.advanceTimersByTimeAsync(1_000);

      expect(await reading).toBeInstanceOf(UpstreamTimeoutError);
      expect(ended[0]).toMatchObject({ outcome: 'upstream_timeout', completionTokens: 2 });
      expect(ended[0].promptTokens).toBeGreaterThan(0);
    });

    it('should refuse a max_output_tokens above what the model can write, as chat refuses max_tokens, before any reservation', async () => {
      const refused = ai.respondStream({ ...request, max_output_tokens: 1_000_000 }, context());

      await expect(refused).rejects.toMatchObject({ code: 'completion_limit_too_large', param: 'max_output_tokens' });
      expect(upstream.calls).toHaveLength(0);
      expect(ended).toEqual([]);
    });

    it('should reserve a continued response at the most it can be billed, however its window is split between prompt and output', async () => {
      const registry = testing.moduleRef.get(ModelRegistry);
      const metered = meteredResponse({ ...request, previous_response_id: 'resp_0' }, (text) => text.length, registry.largestPrompt('gpt-4o'));

      const estimate = testing.moduleRef.get(Governance).estimateCall(metered, ['gpt-4o']);

      // The dearest split: as long an output as gpt-4o writes (16,384 tokens at $10), the rest of its 128,000-token window as input.
      const { contextWindow, maxOutputTokens } = DEFAULT_MODELS['gpt-4o'];
      const dearest = testing.moduleRef.get(Pricing).costMicroUsd('gpt-4o', contextWindow! - maxOutputTokens!, maxOutputTokens!);
      expect(estimate.costMicroUsd).toBeGreaterThanOrEqual(dearest);
    });

    it('should reserve a response that continues a previous one at the model’s whole window', async () => {
      await testing.moduleRef.get(TenantService).setLimits('acme', { tokensPerMonth: 100_000 });
      upstream.always(responseEvents(responseEventsOf(['Hi'])));

      const continued = ai.respondStream({ ...request, previous_response_id: 'resp_0', max_output_tokens: 10 }, context());

      await expect(continued).rejects.toMatchObject({ code: 'tenant_quota_exceeded' });
      await expect(collect(await ai.respondStream({ ...request, max_output_tokens: 10 }, context()))).resolves.toHaveLength(3);
    });
  });
});
