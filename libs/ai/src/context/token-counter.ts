import { Injectable, OnModuleInit } from '@nestjs/common';
import type * as Cl100k from 'gpt-tokenizer/encoding/cl100k_base';
import type * as O200k from 'gpt-tokenizer/encoding/o200k_base';
import type { ChatCompletionCreateParamsBase, ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import type { EmbeddingCreateParams } from 'openai/resources/embeddings';
import { TokenEncoding } from '../ai-module-options';

// OpenAI's cookbook: every message costs 3 tokens of framing (4 with a name) and the reply is primed with 3.
export const TOKENS_PER_MESSAGE = 3;
const TOKENS_PER_NAME = 1;
export const REPLY_PRIMING = 3;

/** An encoding's counter, loaded when first asked for: its tables take a tenth of a second or more to load. */
function loadedOnFirstUse(load: () => (text: string) => number): (text: string) => number {
  let count: ((text: string) => number) | undefined;
  return (text) => (count ??= load())(text);
}

/* eslint-disable @typescript-eslint/no-require-imports */
const COUNTERS: Record<TokenEncoding, (text: string) => number> = {
  o200k_base: loadedOnFirstUse(() => (require('gpt-tokenizer/encoding/o200k_base') as typeof O200k).countTokens),
  cl100k_base: loadedOnFirstUse(() => (require('gpt-tokenizer/encoding/cl100k_base') as typeof Cl100k).countTokens),
};
/* eslint-enable @typescript-eslint/no-require-imports */

type Prompt = Pick<ChatCompletionCreateParamsBase, 'messages' | 'tools'>;
/** The tokens of one piece of a prompt's text: counted exactly, or bounded. */
type Measure = (text: string) => number;

/**
 * Counts tokens the way OpenAI bills them, before the call: per message its framing, role, text,
 * name and tool calls; tool definitions as their JSON (OpenAI's own rendering of them is not
 * published, so this is an estimate there — the simulator's usage agrees within a few tokens).
 */
@Injectable()
export class TokenCounter implements OnModuleInit {
  /** The encodings load with the module, not with the library or the first call. */
  onModuleInit(): void {
    for (const count of Object.values(COUNTERS)) count('');
  }

  /** The prompt tokens of a chat request: its messages and its tool definitions. */
  countPrompt(request: Prompt, encoding: TokenEncoding = 'o200k_base'): number {
    return measurePrompt(request, exactly(COUNTERS[encoding]));
  }

  /**
   * The most tokens `countPrompt` can find in the request, without tokenizing it: its framing plus the
   * UTF-8 bytes of its text. Every token of o200k_base and cl100k_base stands for at least one byte (the
   * shortest entry of either vocabulary is one byte), so no text has more tokens than bytes. A linear
   * scan: a 100k-token conversation is bounded in well under a millisecond, where counting it takes tens.
   */
  boundPrompt(request: Prompt): number {
    return measurePrompt(request, utf8Bytes);
  }

  /** What a prompt costs besides its messages: the reply priming and the tool definitions. */
  countOverhead(request: Pick<ChatCompletionCreateParamsBase, 'tools'>, count: (text: string) => number): number {
    return measureOverhead(request, exactly(count));
  }

  /** The tokens of one message, framing included. */
  countMessage(message: ChatCompletionMessageParam, count: (text: string) => number = COUNTERS.o200k_base): number {
    return measureMessage(message, exactly(count));
  }

  countText(text: string, encoding: TokenEncoding = 'o200k_base'): number {
    return countText(text, COUNTERS[encoding]);
  }

  /** The tokens of an embedding request's input, as OpenAI bills them: each text counted, token arrays by their length, no framing. */
  countEmbeddingInput(input: EmbeddingCreateParams['input'], encoding: TokenEncoding = 'cl100k_base'): number {
    if (typeof input === 'string') return this.countText(input, encoding);
    let total = 0;
    for (const each of input) total += typeof each === 'string' ? this.countText(each, encoding) : Array.isArray(each) ? each.length : 1;
    return total;
  }

  /** The counting function of an encoding, for callers that count many messages. */
  counterFor(encoding: TokenEncoding): (text: string) => number {
    return COUNTERS[encoding];
  }
}

function measurePrompt(request: Prompt, measure: Measure): number {
  return request.messages.reduce((sum, message) => sum + measureMessage(message, measure), 0) + measureOverhead(request, measure);
}

function measureOverhead(request: Pick<ChatCompletionCreateParamsBase, 'tools'>, measure: Measure): number {
  const tools = request.tools?.length ? measure(JSON.stringify(request.tools)) : 0;
  return tools + REPLY_PRIMING;
}

function measureMessage(message: ChatCompletionMessageParam, measure: Measure): number {
  const name = 'name' in message && message.name ? TOKENS_PER_NAME + measure(message.name) : 0;
  const toolCalls = 'tool_calls' in message && message.tool_calls ? measure(JSON.stringify(message.tool_calls)) : 0;
  return TOKENS_PER_MESSAGE + measure(message.role) + measureContent(message.content, measure) + name + toolCalls;
}

/** Text parts are measured one by one (an upper bound of counting them joined); media parts are bounded for the reservation in media-token-bounds.ts. */
function measureContent(content: ChatCompletionMessageParam['content'], measure: Measure): number {
  if (typeof content === 'string') return measure(content);
  if (!Array.isArray(content)) return 0;
  return content.reduce((sum, part) => sum + ('text' in part && typeof part.text === 'string' ? measure(part.text) : 0), 0);
}

const exactly =
  (count: (text: string) => number): Measure =>
  (text) =>
    countText(text, count);

// Lone surrogates count as the 3 bytes of U+FFFD, as the tokenizer's TextEncoder writes them.
const utf8Bytes: Measure = (text) => Buffer.byteLength(text, 'utf8');

/** Longer runs without whitespace are counted in slices: BPE merging is quadratic in the length of one run. */
const LONG_RUN = /\S{256,}/g;
const SLICE = 128;

/**
 * The text's tokens, in time linear in its length. gpt-tokenizer takes seconds on a single run of
 * 60 000 letters (minutes at 300 000), which any tenant could send; slicing such runs counts each
 * slice on its own, a few tokens more than the exact count, never fewer by more than a slice's rounding.
 */
function countText(text: string, count: (text: string) => number): number {
  if (!text) return 0;
  let total = 0;
  let from = 0;
  for (const run of text.matchAll(LONG_RUN)) {
    total += count(text.slice(from, run.index));
    for (const slice of slicesOf(run[0])) total += count(slice);
    from = run.index + run[0].length;
  }
  return total + count(text.slice(from));
}

/** Slices of about SLICE code units that never cut a surrogate pair (its halves would each count as U+FFFD). */
function* slicesOf(run: string): Generator<string> {
  for (let offset = 0; offset < run.length; ) {
    let end = Math.min(offset + SLICE, run.length);
    if (isHighSurrogate(run.charCodeAt(end - 1)) && end < run.length) end++;
    yield run.slice(offset, end);
    offset = end;
  }
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}
