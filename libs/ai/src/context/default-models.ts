import type { ModelInfo } from './model-info';

/**
 * The model table the library ships, used unless `modelDefaults` is false; `models` replaces its entries model by model.
 * Prices are OpenAI's list prices in USD per million tokens, cached input included where OpenAI caches prompts (not for
 * gpt-3.5-turbo): check them against your contract. Image rules are platform.openai.com/docs/guides/images-vision,
 * "Calculating costs". The gateway's config/models.yaml holds the same table.
 */
export const DEFAULT_MODELS: Readonly<Record<string, Readonly<ModelInfo>>> = {
  'gpt-4o': {
    contextWindow: 128_000,
    maxOutputTokens: 16_384,
    encoding: 'o200k_base',
    inputPerMillionUsd: 2.5,
    outputPerMillionUsd: 10,
    cachedInputPerMillionUsd: 1.25,
    imageTokens: { baseTokens: 85, tileTokens: 170 },
  },
  'gpt-4o-mini': {
    contextWindow: 128_000,
    maxOutputTokens: 16_384,
    encoding: 'o200k_base',
    inputPerMillionUsd: 0.15,
    outputPerMillionUsd: 0.6,
    cachedInputPerMillionUsd: 0.075,
    // Images bill about 33 times gpt-4o's tokens (at the same price): a file's page images can bill a window's worth of pages at that rate.
    imageTokens: { baseTokens: 2_833, tileTokens: 5_667 },
    fileTokens: 4_266_918,
  },
  'gpt-4.1': {
    contextWindow: 1_047_576,
    maxOutputTokens: 32_768,
    encoding: 'o200k_base',
    inputPerMillionUsd: 2,
    outputPerMillionUsd: 8,
    cachedInputPerMillionUsd: 0.5,
    imageTokens: { baseTokens: 85, tileTokens: 170 },
  },
  'gpt-4.1-mini': {
    contextWindow: 1_047_576,
    maxOutputTokens: 32_768,
    encoding: 'o200k_base',
    inputPerMillionUsd: 0.4,
    outputPerMillionUsd: 1.6,
    cachedInputPerMillionUsd: 0.1,
    imageTokens: { patchMultiplier: 1.62 },
  },
  'gpt-4.1-nano': {
    contextWindow: 1_047_576,
    maxOutputTokens: 32_768,
    encoding: 'o200k_base',
    inputPerMillionUsd: 0.1,
    outputPerMillionUsd: 0.4,
    cachedInputPerMillionUsd: 0.025,
    imageTokens: { patchMultiplier: 2.46 },
  },
  'gpt-3.5-turbo': {
    contextWindow: 16_385,
    maxOutputTokens: 4_096,
    encoding: 'cl100k_base',
    largerContextModel: 'gpt-4o-mini',
    inputPerMillionUsd: 0.5,
    outputPerMillionUsd: 1.5,
  },
  'o4-mini': {
    contextWindow: 200_000,
    maxOutputTokens: 100_000,
    encoding: 'o200k_base',
    inputPerMillionUsd: 1.1,
    outputPerMillionUsd: 4.4,
    cachedInputPerMillionUsd: 0.275,
    imageTokens: { patchMultiplier: 1.72 },
  },
  // Embedding models bill their input alone; OpenAI takes at most 8,192 tokens per input, counted with cl100k_base.
  'text-embedding-3-small': {
    contextWindow: 8_192,
    encoding: 'cl100k_base',
    inputPerMillionUsd: 0.02,
    outputPerMillionUsd: 0,
  },
  'text-embedding-3-large': {
    contextWindow: 8_192,
    encoding: 'cl100k_base',
    inputPerMillionUsd: 0.13,
    outputPerMillionUsd: 0,
  },
  'text-embedding-ada-002': {
    contextWindow: 8_192,
    encoding: 'cl100k_base',
    inputPerMillionUsd: 0.1,
    outputPerMillionUsd: 0,
  },
};
