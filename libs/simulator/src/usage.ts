import { countTokens } from 'gpt-tokenizer';
import { isRecord } from './validation';

/** Each of these words (with its leading space) is one o200k_base token, so completion tokens = words. */
const WORDS = (
  'Lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore magna aliqua'
).split(' ');

// OpenAI cookbook, "How to count tokens with tiktoken", for gpt-4o and later.
const TOKENS_PER_MESSAGE = 3;
const TOKENS_PER_NAME = 1;
const REPLY_PRIMING_TOKENS = 3;

export interface CompletionText {
  /** The content split into streamed deltas: the first word, then each next word with its leading space. */
  pieces: readonly string[];
  content: string;
  tokens: number;
}

const MAX_CACHED_WORDS = 4096;
const textCache = new Map<number, CompletionText>();

/** The deterministic content of `words` words; cached, since benchmarks ask for the same lengths over and over. */
export function completionText(words: number): CompletionText {
  const cached = textCache.get(words);
  if (cached) return cached;
  const pieces = Array.from({ length: words }, (_, i) => (i === 0 ? '' : ' ') + WORDS[i % WORDS.length]);
  const content = pieces.join('');
  const text = { pieces, content, tokens: countTokens(content) };
  if (words <= MAX_CACHED_WORDS) textCache.set(words, text);
  return text;
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
