import { Inject, Injectable } from '@nestjs/common';
import { FALLBACK_MODELS, MODELS, PLANS } from '../ai-option-slices';
import { ModelNotPricedError } from '../errors/ai-errors';
import { TenantLimits } from '../tenancy/tenant-limits';
import { ModelInfo } from './model-info';

type Price = Pick<ModelInfo, 'inputPerMillionUsd' | 'outputPerMillionUsd' | 'cachedInputPerMillionUsd'>;

/**
 * Prices from the module's model table, in micro-USD so that sums stay exact. A listed model has its own price (0 if
 * listed so); an unlisted one is priced as the dearest listed, an upper bound. Only a table that prices nothing at all
 * leaves an unlisted model without a price, and then no plan with a cost limit may reach one: the module refuses to start.
 */
@Injectable()
export class Pricing {
  /** An unlisted model is priced as the dearest listed one, so that it cannot dodge a cost quota; undefined: none has a price. */
  private readonly unlisted?: Price;

  constructor(
    @Inject(MODELS) private readonly models: Record<string, ModelInfo>,
    @Inject(PLANS) private readonly plans: Record<string, TenantLimits>,
    @Inject(FALLBACK_MODELS) private readonly fallbackModels: Record<string, string[]>,
  ) {
    this.unlisted = dearestOf(Object.values(models));
    this.assertCostLimitsPriced();
  }

  /**
   * USD per million tokens × tokens = micro-USD; rounded up, never in the tenant's favour by a fraction. `cachedTokens`, the
   * part of the prompt read from the prompt cache, costs the cached price, never more than the input price (every prompt
   * token is reserved at that); reasoning tokens are part of `completionTokens`.
   */
  costMicroUsd(model: string, promptTokens: number, completionTokens: number, cachedTokens = 0): number {
    // No price costs nothing: start-up has refused every plan with a cost limit that could reach such a model.
    const price = this.priceOf(model) ?? { inputPerMillionUsd: 0, outputPerMillionUsd: 0 };
    const cached = Math.min(cachedTokens, promptTokens);
    const cachedPrice = Math.min(price.cachedInputPerMillionUsd ?? price.inputPerMillionUsd, price.inputPerMillionUsd);
    return Math.ceil((promptTokens - cached) * price.inputPerMillionUsd + cached * cachedPrice + completionTokens * price.outputPerMillionUsd);
  }

  /** Whether a call to `model` can be priced: it is listed, or the table has a dearest price to bound it by. */
  isPriced(model: string): boolean {
    return this.priceOf(model) !== undefined;
  }

  /** A plan that limits cost must reach no model without a price, or its spend would count as 0 and the limit do nothing. */
  private assertCostLimitsPriced(): void {
    for (const [name, plan] of Object.entries(this.plans)) {
      if (plan.costPerMonthUsd === null) continue;
      if (plan.allowUnknownModels && !this.unlisted) throw new ModelNotPricedError(`plan '${name}'`);
      const fallbacks = Object.values(plan.fallbackModels ?? this.fallbackModels).flat();
      const unpriced = fallbacks.find((model) => !this.isPriced(model));
      if (unpriced !== undefined) throw new ModelNotPricedError(`plan '${name}'`, unpriced);
    }
  }

  private priceOf(model: string): Price | undefined {
    return this.models[model] ?? this.unlisted;
  }
}

/** The dearest input and output prices listed (each the most of any model), or undefined when no model costs anything. */
function dearestOf(models: ModelInfo[]): Price | undefined {
  const input = Math.max(0, ...models.map((model) => model.inputPerMillionUsd));
  const output = Math.max(0, ...models.map((model) => model.outputPerMillionUsd));
  return input > 0 || output > 0 ? { inputPerMillionUsd: input, outputPerMillionUsd: output } : undefined;
}
