import { Injectable } from '@nestjs/common';
import { countTokens as countCl100k } from 'gpt-tokenizer/encoding/cl100k_base';
import { countTokens as countO200k } from 'gpt-tokenizer/encoding/o200k_base';
import type { ChatCompletionCreateParamsBase, ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import { TokenEncoding } from '../ai-module-options';

// OpenAI's cookbook: every message costs 3 tokens of framing (4 with a name) and the reply is primed with 3.
export const TOKENS_PER_MESSAGE = 3;
const TOKENS_PER_NAME = 1;
export const REPLY_PRIMING = 3;

const COUNTERS: Record<TokenEncoding, (text: string) => number> = {
  o200k_base: countO200k,
  cl100k_base: countCl100k,
};

/**
 * Counts tokens the way OpenAI bills them, before the call: per message its framing, role, text,
 * name and tool calls; tool definitions as their JSON (OpenAI's own rendering of them is not
 * published, so this is an estimate there — the simulator's usage agrees within a few tokens).
 */
@Injectable()
export class TokenCounter {
  /** The prompt tokens of a chat request: its messages and its tool definitions. */
  countPrompt(request: Pick<ChatCompletionCreateParamsBase, 'messages' | 'tools'>, encoding: TokenEncoding = 'o200k_base'): number {
    const count = COUNTERS[encoding];
    const messages = request.messages.reduce((sum, message) => sum + this.countMessage(message, count), 0);
    return messages + this.countOverhead(request, count);
  }

  /** What a prompt costs besides its messages: the reply priming and the tool definitions. */
  countOverhead(request: Pick<ChatCompletionCreateParamsBase, 'tools'>, count: (text: string) => number): number {
    const tools = request.tools?.length ? count(JSON.stringify(request.tools)) : 0;
    return tools + REPLY_PRIMING;
  }

  /** The tokens of one message, framing included. */
  countMessage(message: ChatCompletionMessageParam, count: (text: string) => number = countO200k): number {
    const name = 'name' in message && message.name ? TOKENS_PER_NAME + count(message.name) : 0;
    const toolCalls = 'tool_calls' in message && message.tool_calls ? count(JSON.stringify(message.tool_calls)) : 0;
    return TOKENS_PER_MESSAGE + count(message.role) + countContent(message.content, count) + name + toolCalls;
  }

  countText(text: string, encoding: TokenEncoding = 'o200k_base'): number {
    return countText(text, COUNTERS[encoding]);
  }

  /** The counting function of an encoding, for callers that count many messages. */
  counterFor(encoding: TokenEncoding): (text: string) => number {
    return COUNTERS[encoding];
  }
}

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
    for (let offset = 0; offset < run[0].length; offset += SLICE) total += count(run[0].slice(offset, offset + SLICE));
    from = run.index + run[0].length;
  }
  return total + count(text.slice(from));
}

/** Text parts are counted one by one (an upper bound of counting them joined); media parts are bounded for the reservation in media-token-bounds.ts. */
function countContent(content: ChatCompletionMessageParam['content'], count: (text: string) => number): number {
  if (typeof content === 'string') return countText(content, count);
  if (!Array.isArray(content)) return 0;
  return content.reduce((sum, part) => sum + ('text' in part && typeof part.text === 'string' ? countText(part.text, count) : 0), 0);
}
