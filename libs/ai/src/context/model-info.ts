/** A model's size, tokenizer, price and media bills: for context policies, token counts, cost quotas and reservations. */
export interface ModelInfo {
  /** USD per million prompt tokens. */
  inputPerMillionUsd: number;
  /** USD per million completion tokens, reasoning tokens included (they are part of the completion). */
  outputPerMillionUsd: number;
  /**
   * USD per million prompt tokens read from OpenAI's prompt cache (`cached_tokens`); at most `inputPerMillionUsd`,
   * which every prompt token is reserved at. @default inputPerMillionUsd: cached input costs the full price
   */
  cachedInputPerMillionUsd?: number;
  /** Prompt and completion tokens together. @default undefined: no context check */
  contextWindow?: number;
  /**
   * The most completion tokens the model writes: a larger `max_tokens` is refused, and a request that names
   * none reserves this much (less when the prompt leaves less room in the window).
   * @default undefined: no check; a request without a limit reserves the window's room, or `UNLISTED_MODEL_COMPLETION_BOUND`
   */
  maxOutputTokens?: number;
  /** @default 'o200k_base' */
  encoding?: TokenEncoding;
  /** A model with a larger window to switch to under the `upgrade` policy. @default undefined */
  largerContextModel?: string;
  /** How the model bills an image part, whose size the request does not tell: it is reserved at the most it can cost. @default DEFAULT_IMAGE_TOKENS (gpt-4o's tiles) */
  imageTokens?: ImageTokenRule;
  /**
   * Prompt tokens per second of `input_audio`. Audio is reserved at the longest it can last: its decoded bytes at
   * 8 kbit/s, MP3's lowest bitrate. Audio tokens priced above text tokens need this scaled by the ratio of the prices.
   * @default 10 (OpenAI bills one audio token per 100 ms)
   */
  audioTokensPerSecond?: number;
  /**
   * The most prompt tokens one `file` part can be billed: its text and, for a PDF, an image of every page cannot be
   * sized without reading it (a `file_id` carries nothing at all), so the default is all the window can hold.
   * @default contextWindow, or UNLISTED_MODEL_FILE_TOKENS without one
   */
  fileTokens?: number;
}

/**
 * OpenAI's two ways of billing an image (platform.openai.com/docs/guides/images-vision, "Calculating costs"): tiles
 * (gpt-4o, gpt-4.1, o1, o3) or 32-px patches (gpt-4.1-mini, gpt-4.1-nano, o4-mini).
 */
export type ImageTokenRule = TileImageTokens | PatchImageTokens;

/** `detail: low` costs `baseTokens`; high or auto adds `tileTokens` per 512-px tile of the image scaled into 2048 × 2048, short side at most 768 px: at most 8 tiles. */
export interface TileImageTokens {
  baseTokens: number;
  tileTokens: number;
}

/** Tokens = 32-px patches covering the image, scaled down to at most `maxPatches`, × `patchMultiplier`, whatever the detail. */
export interface PatchImageTokens {
  patchMultiplier: number;
  /** @default 1536 */
  maxPatches?: number;
}

export type TokenEncoding = 'o200k_base' | 'cl100k_base';
