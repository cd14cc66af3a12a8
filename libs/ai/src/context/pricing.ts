import { Inject, Injectable } from '@nestjs/common';
import { ModelInfo, ResolvedAiOptions } from '../ai-module-options';
import { RESOLVED_AI_OPTIONS } from '../ai.module-definition';

/** Prices from the module's model table, in micro-USD so that sums stay exact. */
@Injectable()
export class Pricing {
  /** An unlisted model is priced as the dearest listed one, so that it cannot dodge a cost quota. */
  private readonly fallback: ModelInfo;

  constructor(@Inject(RESOLVED_AI_OPTIONS) private readonly options: ResolvedAiOptions) {
    const models = Object.values(options.models);
    this.fallback = {
      inputPerMillionUsd: Math.max(0, ...models.map((model) => model.inputPerMillionUsd)),
      outputPerMillionUsd: Math.max(0, ...models.map((model) => model.outputPerMillionUsd)),
    };
  }

  /** USD per million tokens × tokens = micro-USD; rounded up, never in the tenant's favour by a fraction. */
  costMicroUsd(model: string, promptTokens: number, completionTokens: number): number {
    const price = this.priceOf(model);
    return Math.ceil(promptTokens * price.inputPerMillionUsd + completionTokens * price.outputPerMillionUsd);
  }

  private priceOf(model: string): ModelInfo {
    return this.options.models[model] ?? this.fallback;
  }
}
