import { countTokens, decodeGenerator, encode } from 'gpt-tokenizer';
import type { SimulatorConfig } from './types';
import { isRecord } from './validation';

/** What a generated answer takes of the simulator's config. */
export type ReplyConfig = Pick<SimulatorConfig, 'completionWords' | 'cachedPromptTokens'>;

/** Each of these words (with its leading space) is one o200k_base token, so completion tokens = words. */
const WORDS = (
  'Lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore magna aliqua'
).split(' ');

// OpenAI cookbook, "How to count tokens with tiktoken", for gpt-4o and later.
const TOKENS_PER_MESSAGE = 3;
const TOKENS_PER_NAME = 1;
const REPLY_PRIMING_TOKENS = 3;

export interface CompletionText {
  /** The text split into streamed deltas: for words, the first word, then each next word with its leading space. */
  pieces: readonly string[];
  content: string;
  tokens: number;
}

const MAX_CACHED_WORDS = 4096;
const textCache = new Map<number, CompletionText>();

/**
 * The deterministic content of `words` words: "Lorem", then the words from the `variant`-th on,
 * so that the choices of one request differ. Cached for variant 0, since benchmarks ask for the same lengths over and over.
 */
export function completionText(words: number, variant = 0): CompletionText {
  const cached = variant === 0 ? textCache.get(words) : undefined;
  if (cached) return cached;
  const pieces = Array.from({ length: words }, (_, i) => (i === 0 ? WORDS[0] : ' ' + WORDS[(i + variant) % WORDS.length]));
  const content = pieces.join('');
  const text = { pieces, content, tokens: countTokens(content) };
  if (variant === 0 && words <= MAX_CACHED_WORDS) textCache.set(words, text);
  return text;
}

const AS_TEXT = { disallowedSpecial: new Set<string>() };

/** Any text as the model would write it, token by token: cut after `maxTokens` tokens when it is longer. */
export function tokenizedText(text: string, maxTokens = Infinity): CompletionText & { cut: boolean } {
  // What the model writes is text: `<|endoftext|>` in it is characters, not the special token.
  const all = encode(text, AS_TEXT);
  const kept = all.length > maxTokens ? all.slice(0, maxTokens) : all;
  // One piece per token, but a character split across tokens comes whole with its last token.
  const pieces = [...decodeGenerator(kept)];
  return { pieces, content: pieces.join(''), tokens: kept.length, cut: kept.length < all.length };
}

/** Prompt tokens as OpenAI bills them: each message's string fields, plus framing tokens. */
export function countPromptTokens(messages: readonly Record<string, unknown>[]): number {
  let total = REPLY_PRIMING_TOKENS;
  for (const message of messages) {
    total += TOKENS_PER_MESSAGE;
    for (const [field, value] of Object.entries(message)) {
      total += field === 'content' ? contentTokens(value) : typeof value === 'string' ? countTokens(value) : 0;
      if (field === 'name') total += TOKENS_PER_NAME;
    }
  }
  return total;
}

/** A string, or an array of content parts of which the text parts count. */
function contentTokens(content: unknown): number {
  if (typeof content === 'string') return countTokens(content);
  if (!Array.isArray(content)) return 0;
  let total = 0;
  for (const part of content) {
    if (isRecord(part) && typeof part.text === 'string') total += countTokens(part.text);
  }
  return total;
}

/** o1, o3, o4-mini…: the models that reason before they answer. */
export function isReasoningModel(model: string): boolean {
  return /^o\d/.test(model);
}

const REASONING_TOKENS = 16;

/** What a reasoning model spends reasoning on each answer: taken from its max tokens, so part of the output, never on top. */
export function reasoningTokensOf(model: string, maxTokens?: number): number {
  return isReasoningModel(model) ? Math.min(REASONING_TOKENS, maxTokens ?? Infinity) : 0;
}

/** The `cachedPromptTokens` setting applied to a prompt: a count, or a share below 1, never more than the prompt. */
export function cachedTokensOf(promptTokens: number, cachedPromptTokens: number): number {
  const cached = Number.isInteger(cachedPromptTokens) ? cachedPromptTokens : Math.floor(promptTokens * cachedPromptTokens);
  return Math.min(cached, promptTokens);
}
