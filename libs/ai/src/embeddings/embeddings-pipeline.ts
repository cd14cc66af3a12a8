import { Inject, Injectable } from '@nestjs/common';
import { FALLBACK_MODELS } from '../ai-option-slices';
import { Admissions, MeteredCall } from '../chat/admissions';
import { admissionContextOf, billedUsage, callContextOf, EndpointContext, resolveCall, settledOnFailure } from '../chat/call-steps';
import { ModelRegistry } from '../context/model-registry';
import { TokenCounter } from '../context/token-counter';
import { ResilientUpstream } from '../upstream/resilient-upstream';
import { InjectUpstreamClient, UpstreamClient } from '../upstream/upstream-client';
import { EmbeddingRequest, EmbeddingResult } from './embedding-request';

/**
 * An embeddings call on ChatPipeline's path: resolve the tenant → admit (limits and a reservation of its input tokens,
 * counted with the model's tokenizer; an embedding writes nothing) → call the upstream → settle.
 */
@Injectable()
export class EmbeddingsPipeline {
  constructor(
    private readonly upstream: ResilientUpstream,
    private readonly admissions: Admissions,
    private readonly tokens: TokenCounter,
    private readonly registry: ModelRegistry,
    @InjectUpstreamClient() private readonly client: UpstreamClient,
    @Inject(FALLBACK_MODELS) private readonly fallbackModels: Record<string, string[]>,
  ) {}

  async embed(request: EmbeddingRequest, context: EndpointContext): Promise<EmbeddingResult> {
    const call = await resolveCall(request.model, context, { admissions: this.admissions, registry: this.registry, fallbackModels: this.fallbackModels });
    const metered = this.metered(request);
    const admission = await this.admissions.admitCall(metered, admissionContextOf(call, context, false, metered.promptTokens));
    return settledOnFailure(admission, async () => {
      const outcome = await this.upstream.call(request.model, callContextOf(call, context), (model, control) =>
        this.client.createEmbeddings({ ...request, model }, control),
      );
      const { value: embeddings, model, attempts, upstreamRequestId, upstream } = outcome;
      admission.finish({ outcome: 'success', attempts, modelServed: model, usage: billedUsage(embeddings.usage), upstreamRequestId, upstream });
      return { embeddings, model, attempts, upstreamRequestId, upstream, rateLimits: admission.rateLimits };
    });
  }

  private metered(request: EmbeddingRequest): MeteredCall {
    return {
      endpoint: 'embeddings',
      model: request.model,
      promptTokens: this.tokens.countEmbeddingInput(request.input, this.registry.encodingOf(request.model)),
      mediaParts: [],
      completionLimit: 0,
      choices: 1,
      content: { input: request.input },
    };
  }
}
