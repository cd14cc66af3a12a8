import { resolvedOptions } from '../../test/factories';
import type { ModelInfo } from '../ai-module-options';
import { CompletionLimitTooLargeError, UnknownModelError } from '../errors/ai-errors';
import { ModelRegistry, UNLISTED_MODEL_COMPLETION_BOUND } from './model-registry';

const PRICE = { inputPerMillionUsd: 1, outputPerMillionUsd: 2 };
const MODELS: Record<string, ModelInfo> = {
  chat: { ...PRICE, contextWindow: 20_000, maxOutputTokens: 4_000 },
  reasoning: { ...PRICE, contextWindow: 200_000, maxOutputTokens: 150_000, imageTokens: { patchMultiplier: 2.46 } },
  windowOnly: { ...PRICE, contextWindow: 10_000 },
  priceOnly: { ...PRICE },
};
const PROTOTYPE_NAMES = Object.getOwnPropertyNames(Object.prototype);

describe(ModelRegistry.name, () => {
  // Only these models: the bounds of unlisted ones below are the largest of this table, not of the defaults.
  const registry = new ModelRegistry(resolvedOptions({ models: MODELS, modelDefaults: false }).models);

  describe('prototype names', () => {
    it.each(PROTOTYPE_NAMES)('should know no model named %s unless listed', (name) => {
      expect(registry.info(name)).toBeUndefined();
      expect(() => registry.assertCallable(name, false)).toThrow(UnknownModelError);
    });

    it('should know a model named constructor once it is listed', () => {
      const listing = new ModelRegistry(resolvedOptions({ models: { constructor: { ...PRICE, maxOutputTokens: 10 } } }).models);

      expect(listing.info('constructor')).toEqual({ ...PRICE, maxOutputTokens: 10 });
      expect(() => listing.assertCallable('toString', false)).toThrow(UnknownModelError);
    });
  });

  describe('assertCallable', () => {
    it('should let a model of the default table pass and refuse one it does not list with model_not_found, unless the plan allows unknown models', () => {
      const defaults = new ModelRegistry(resolvedOptions().models);

      expect(() => defaults.assertCallable('gpt-4o', false)).not.toThrow();
      expect(() => defaults.assertCallable('gpt-9', false)).toThrow(expect.objectContaining({ code: 'model_not_found', param: 'model' }));
      expect(() => defaults.assertCallable('gpt-9', true)).not.toThrow();
    });

    it('should refuse every model of an empty table unless the plan allows unknown models', () => {
      const empty = new ModelRegistry(resolvedOptions({ modelDefaults: false }).models);

      expect(() => empty.assertCallable('gpt-4o', false)).toThrow(UnknownModelError);
      expect(() => empty.assertCallable('gpt-4o', true)).not.toThrow();
    });
  });

  describe('assertCompletionLimit', () => {
    it.each(['max_tokens', 'max_completion_tokens'] as const)('should refuse a %s above the model’s largest completion, naming it', (param) => {
      const refusal = () => registry.assertCompletionLimit({ model: 'chat', [param]: 4_001 });

      expect(refusal).toThrow(CompletionLimitTooLargeError);
      expect(refusal).toThrow(expect.objectContaining({ param, code: 'completion_limit_too_large' }));
    });

    it('should let a limit of exactly the largest completion pass, and any limit of a model without one', () => {
      expect(() => registry.assertCompletionLimit({ model: 'chat', max_tokens: 4_000, max_completion_tokens: null })).not.toThrow();
      expect(() => registry.assertCompletionLimit({ model: 'windowOnly', max_tokens: 1_000_000 })).not.toThrow();
      expect(() => registry.assertCompletionLimit({ model: 'unlisted', max_completion_tokens: 1_000_000 })).not.toThrow();
    });
  });

  describe('largestCompletion', () => {
    it('should be the model’s largest completion while the window has room for it', () => {
      expect(registry.largestCompletion('chat', 1_000)).toBe(4_000);
    });

    it('should be the room the prompt leaves in the window when that is less, and never below 0', () => {
      expect(registry.largestCompletion('chat', 17_000)).toBe(3_000);
      expect(registry.largestCompletion('chat', 25_000)).toBe(0);
    });

    it('should be the window’s room for a model without a largest completion', () => {
      expect(registry.largestCompletion('windowOnly', 1_000)).toBe(9_000);
      expect(registry.largestCompletion('priceOnly', 1_000)).toBe(UNLISTED_MODEL_COMPLETION_BOUND);
    });

    it('should be the largest listed, at least GPT-5’s, for a model the table does not list', () => {
      expect(registry.largestCompletion('gpt-5-pro', 1_000)).toBe(150_000);
      expect(new ModelRegistry(resolvedOptions({ models: {} }).models).largestCompletion('any', 1_000)).toBe(UNLISTED_MODEL_COMPLETION_BOUND);
    });
  });

  describe('mediaTokenBounds', () => {
    it('should bound an unlisted model’s media by the largest of the listed models and the defaults', () => {
      expect(registry.mediaTokenBounds('constructor')).toEqual({ lowDetailImage: 3_779, image: 3_779, audioTokensPerSecond: 10, file: 1_047_576 });
      expect(registry.mediaTokenBounds('chat')).toEqual({ lowDetailImage: 85, image: 1_445, audioTokensPerSecond: 10, file: 20_000 });
    });
  });
});
