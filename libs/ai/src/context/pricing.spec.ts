import { AiModuleOptions } from '../ai-module-options';
import { resolvedOptions } from '../../test/factories';
import { ModelNotPricedError } from '../errors/ai-errors';
import { DEFAULT_MODELS } from './default-models';
import { Pricing } from './pricing';

const LOCAL = { inputPerMillionUsd: 0, outputPerMillionUsd: 0 };

function aPricing(overrides: Partial<AiModuleOptions> = {}): Pricing {
  const { models, plans, fallbackModels } = resolvedOptions(overrides);
  return new Pricing(models, plans, fallbackModels);
}

describe(Pricing.name, () => {
  describe('with the default table', () => {
    const pricing = aPricing();

    it('should price gpt-4o at its list price, rounded up to the micro-USD', () => {
      expect(pricing.costMicroUsd('gpt-4o', 5, 2)).toBe(33); // 5 × 2.50 + 2 × 10.00 = 32.5
    });

    it('should price a model the table does not list as the dearest listed, an upper bound', () => {
      const dearest = Object.values(DEFAULT_MODELS).reduce((a, b) => (a.outputPerMillionUsd > b.outputPerMillionUsd ? a : b));

      expect(pricing.costMicroUsd('gpt-9', 1_000, 1_000)).toBe(1_000 * dearest.inputPerMillionUsd + 1_000 * dearest.outputPerMillionUsd);
      expect(pricing.isPriced('gpt-9')).toBe(true);
    });
  });

  describe('cached prompt tokens', () => {
    it('should price them at the cached price and the rest of the prompt at the input price', () => {
      const pricing = aPricing();

      // gpt-4o-mini: 600 × 0.15 + 400 × 0.075 + 100 × 0.60 = 90 + 30 + 60
      expect(pricing.costMicroUsd('gpt-4o-mini', 1_000, 100, 400)).toBe(180);
      expect(pricing.costMicroUsd('gpt-4o-mini', 1_000, 100)).toBe(210);
    });

    it('should price them at the full input price for a model without a cached price', () => {
      const pricing = aPricing();

      expect(pricing.costMicroUsd('gpt-3.5-turbo', 1_000, 0, 1_000)).toBe(pricing.costMicroUsd('gpt-3.5-turbo', 1_000, 0));
    });

    it('should never price them above the input price, nor count more of them than the prompt has', () => {
      const pricing = aPricing({ models: { odd: { inputPerMillionUsd: 1, outputPerMillionUsd: 1, cachedInputPerMillionUsd: 5 } } });

      expect(pricing.costMicroUsd('odd', 1_000, 0, 1_000)).toBe(1_000);
      expect(pricing.costMicroUsd('gpt-4o', 100, 0, 1_000)).toBe(pricing.costMicroUsd('gpt-4o', 0, 0) + 125);
    });
  });

  it('should price an overridden model at its own price and keep the others', () => {
    const pricing = aPricing({ models: { 'gpt-4o': { inputPerMillionUsd: 1, outputPerMillionUsd: 1 } } });

    expect(pricing.costMicroUsd('gpt-4o', 1_000, 1_000)).toBe(2_000);
    expect(pricing.costMicroUsd('gpt-4o-mini', 1_000_000, 0)).toBe(150_000);
  });

  it('should price a model listed at 0 at 0: its price was given', () => {
    const pricing = aPricing({ models: { local: LOCAL } });

    expect(pricing.isPriced('local')).toBe(true);
    expect(pricing.costMicroUsd('local', 1_000, 1_000)).toBe(0);
  });

  describe('a table that prices nothing', () => {
    it('should refuse at start-up a plan with a cost limit that passes unknown models through, naming the plan', () => {
      const start = () => aPricing({ modelDefaults: false, plans: { pro: { costPerMonthUsd: 10, allowUnknownModels: true } } });

      expect(start).toThrow(ModelNotPricedError);
      expect(start).toThrow(expect.objectContaining({ code: 'model_not_priced', limitedBy: "plan 'pro'", model: undefined }));
      expect(start).toThrow(/The plan 'pro' limits cost per month .* set costPerMonthUsd to null/);
    });

    it('should refuse at start-up a plan with a cost limit whose fallback the table does not list, naming the model', () => {
      const plans = { default: { costPerMonthUsd: 10, allowUnknownModels: false } };
      const start = () => aPricing({ modelDefaults: false, models: { local: LOCAL }, plans, fallbackModels: { local: ['remote'] } });

      expect(start).toThrow(expect.objectContaining({ code: 'model_not_priced', limitedBy: "plan 'default'", model: 'remote' }));
    });

    it('should start when no plan limits cost, or no plan can reach an unlisted model, and price such a model at nothing', () => {
      const free = aPricing({ modelDefaults: false, plans: { default: { costPerMonthUsd: null, allowUnknownModels: true } } });
      const closed = () => aPricing({ modelDefaults: false, models: { local: LOCAL } }); // DEFAULT_PLAN: $1,000, no unknown models

      expect(free.isPriced('gpt-4o')).toBe(false);
      expect(free.costMicroUsd('gpt-4o', 1_000, 1_000)).toBe(0);
      expect(closed).not.toThrow();
    });
  });

  it('should start a plan with a cost limit that passes unknown models through when the user’s own table has a price', () => {
    const pricing = aPricing({
      modelDefaults: false,
      models: { mine: { inputPerMillionUsd: 3, outputPerMillionUsd: 6 } },
      plans: { default: { costPerMonthUsd: 10 } },
    });

    expect(pricing.costMicroUsd('anything', 1_000, 1_000)).toBe(9_000);
  });
});
