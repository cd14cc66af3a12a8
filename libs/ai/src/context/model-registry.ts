import { Inject, Injectable } from '@nestjs/common';
import type { ChatCompletionCreateParamsBase } from 'openai/resources/chat/completions';
import { MODELS } from '../ai-option-slices';
import { CompletionLimitTooLargeError, UnknownModelError } from '../errors/ai-errors';
import { largestMediaTokenBounds, MediaTokenBounds, mediaTokenBoundsOf, UNLISTED_MODEL_FILE_TOKENS } from './media-token-bounds';
import { ModelInfo, TokenEncoding } from './model-info';

/** The completion a model the table does not list may write when asked for no limit: GPT-5's 128,000, the most OpenAI sells. */
export const UNLISTED_MODEL_COMPLETION_BOUND = 128_000;

/** Chat's two names for the completion limit, and the Responses API's. */
const COMPLETION_LIMITS = ['max_completion_tokens', 'max_tokens', 'max_output_tokens'] as const;

/** The module's model table: what it knows of each model's window, largest completion, tokenizer, sibling and media bills. */
@Injectable()
export class ModelRegistry {
  /** A model the table does not list may be any: it is bounded by the largest of every listed one. */
  private readonly unlisted: { maxOutputTokens: number; media: MediaTokenBounds };

  constructor(@Inject(MODELS) private readonly models: Record<string, ModelInfo>) {
    const listed = Object.values(models);
    this.unlisted = {
      maxOutputTokens: Math.max(UNLISTED_MODEL_COMPLETION_BOUND, ...listed.map((model) => model.maxOutputTokens ?? 0)),
      media: largestMediaTokenBounds([mediaTokenBoundsOf(undefined), ...listed.map(mediaTokenBoundsOf)]),
    };
  }

  /** The table ships with the library's defaults, so an empty one was chosen: it, too, lets only the plan's `allowUnknownModels` through. */
  assertCallable(model: string, allowUnknownModels: boolean): void {
    if (allowUnknownModels || this.info(model)) return;
    throw new UnknownModelError(model, this.names());
  }

  /** OpenAI refuses a completion limit above what the model can write; so does the gateway, before any reservation. */
  assertCompletionLimit(request: Pick<ChatCompletionCreateParamsBase, 'model' | 'max_tokens' | 'max_completion_tokens'> & { max_output_tokens?: number | null }): void {
    const largest = this.info(request.model)?.maxOutputTokens;
    if (largest === undefined) return;
    for (const param of COMPLETION_LIMITS) {
      const asked = request[param];
      if (asked != null && asked > largest) throw new CompletionLimitTooLargeError(param, asked, largest);
    }
  }

  /** The options' model map has no prototype: `constructor` or `__proto__` is no model unless listed. */
  info(model: string): ModelInfo | undefined {
    return this.models[model];
  }

  encodingOf(model: string): TokenEncoding {
    return this.info(model)?.encoding ?? 'o200k_base';
  }

  /**
   * The most completion tokens one choice can be billed when the request names no limit: the model's largest
   * completion, or less when the prompt leaves less room in the window (the upstream bills no more than the window).
   */
  largestCompletion(model: string, promptTokens: number): number {
    const info = this.info(model);
    if (!info) return this.unlisted.maxOutputTokens;
    const largest = info.maxOutputTokens ?? info.contextWindow ?? UNLISTED_MODEL_COMPLETION_BOUND;
    const room = (info.contextWindow ?? Infinity) - promptTokens;
    return Math.max(0, Math.min(largest, room));
  }

  /** The most prompt tokens one call to the model can be billed: its window, or for a model without one the largest OpenAI sells. */
  largestPrompt(model: string): number {
    return this.info(model)?.contextWindow ?? UNLISTED_MODEL_FILE_TOKENS;
  }

  /** The most one image, second of audio or file can be billed by the model. */
  mediaTokenBounds(model: string): MediaTokenBounds {
    const info = this.info(model);
    return info ? mediaTokenBoundsOf(info) : this.unlisted.media;
  }

  names(): string[] {
    return Object.keys(this.models);
  }
}
