import { Injectable } from '@nestjs/common';
import type { ChatCompletionCreateParamsBase, ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import { ContextLengthExceededError } from '../errors/ai-errors';
import { ContextPolicy, TenantLimits } from '../tenancy/tenant-limits';
import { ModelRegistry } from './model-registry';
import { TokenCounter } from './token-counter';
import { droppableUnits, trimToFit } from './trim-to-fit';

type ChatRequest = Omit<ChatCompletionCreateParamsBase, 'stream'>;
type Message = ChatCompletionMessageParam;

export type ContextAction = 'none' | 'trimmed' | 'summarized' | 'upgraded';

/** How the prompt tokens were found: counted `exact`ly, or an upper `bound` (framing plus the text's UTF-8 bytes). */
export type PromptCount = 'exact' | 'bound';

/** What the context policy did, for the response header and the log line. */
export interface ContextOutcome {
  request: ChatRequest;
  action: ContextAction;
  policy: ContextPolicy;
  /** The prompt tokens of the request as sent: counted, or, for a long prompt that plainly fits, bounded from above. */
  promptTokens: number;
  /** Whether `promptTokens` was counted or is the bound. */
  promptCount: PromptCount;
  /** Messages replaced by a summary or dropped. */
  removedMessages: number;
}

/** Writes a short summary of `messages`, through the same guarded path as any call, for the same tenant. */
export type Summarizer = (messages: Message[]) => Promise<string>;

const SUMMARY_PREFIX = 'Summary of the earlier conversation: ';

/**
 * Prompts bounded at this many tokens or fewer (about 8 KB of text, some 2,000 tokens) are always counted
 * exactly: that costs about a millisecond at most, and keeps everyday prompts' counts, reserved and reported,
 * exact. Above it the bound (about 4.5 times the tokens of English text) is what a fitting prompt reserves.
 */
export const EXACT_COUNT_UP_TO = 8_192;

function hasTokenLimits(limits: TenantLimits): boolean {
  return limits.tokensPerMinute !== null || limits.tokensPerMonth !== null || limits.costPerMonthUsd !== null;
}

/**
 * Fits a request into its model's context window and the plan's largest prompt, before any
 * upstream call, by the tenant's policy: refuse it with the counts, drop the oldest turns,
 * summarize them, or switch to the model's larger-context sibling.
 */
@Injectable()
export class ContextFitter {
  constructor(
    private readonly registry: ModelRegistry,
    private readonly tokens: TokenCounter,
  ) {}

  async fit(request: ChatRequest, limits: TenantLimits, policy: ContextPolicy, summarize: Summarizer): Promise<ContextOutcome> {
    const { promptTokens, promptCount } = this.countToFit(request, limits);
    const outcome = (changed: ChatRequest, action: ContextAction, removedMessages = 0): ContextOutcome => ({
      request: changed,
      action,
      policy,
      promptTokens: changed === request ? promptTokens : this.promptTokens(changed),
      promptCount: changed === request ? promptCount : 'exact',
      removedMessages,
    });
    if (promptTokens <= this.budget(request, limits)) return outcome(request, 'none');
    switch (policy) {
      case 'reject':
        throw this.exceeded(request, limits, promptTokens);
      case 'trim': {
        const trimmed = this.trim(request, limits);
        if (!trimmed) throw this.exceeded(request, limits, promptTokens);
        return outcome({ ...request, messages: trimmed.kept }, 'trimmed', trimmed.removed.length);
      }
      case 'upgrade': {
        const sibling = this.registry.info(request.model)?.largerContextModel;
        const upgraded = sibling ? { ...request, model: sibling } : undefined;
        if (!upgraded || this.promptTokens(upgraded) > this.budget(upgraded, limits)) throw this.exceeded(request, limits, promptTokens);
        return outcome(upgraded, 'upgraded');
      }
      case 'summarize': {
        const summarized = await this.summarize(request, limits, summarize);
        if (!summarized) throw this.exceeded(request, limits, promptTokens);
        return outcome(summarized.request, 'summarized', summarized.removed);
      }
    }
  }

  /**
   * The prompt tokens as far as the policy needs them: a long prompt whose upper bound already fits is not
   * tokenized, unless the tenant has a limit counted in tokens or cost — there the bound (several times the
   * real count) would be charged against its minute or its month and could refuse a call that fits.
   */
  private countToFit(request: ChatRequest, limits: TenantLimits): { promptTokens: number; promptCount: PromptCount } {
    const bound = this.tokens.boundPrompt(request);
    if (bound > EXACT_COUNT_UP_TO && !hasTokenLimits(limits) && this.plainlyFits(request, limits, bound)) return { promptTokens: bound, promptCount: 'bound' };
    return { promptTokens: this.promptTokens(request), promptCount: 'exact' };
  }

  /**
   * Whether `promptTokens` fits the budget and still leaves the model its largest reply: then the window
   * check and the completion allowance (`Governance.capCompletion`) come out as with the exact count.
   */
  private plainlyFits(request: ChatRequest, limits: TenantLimits, promptTokens: number): boolean {
    const fullReply = this.registry.largestCompletion(request.model, 0);
    return promptTokens <= this.budget(request, limits) && this.registry.largestCompletion(request.model, promptTokens) === fullReply;
  }

  /** The most prompt tokens the request may have: its window less its completion, and the plan's cap. */
  private budget(request: ChatRequest, limits: TenantLimits): number {
    const window = this.registry.info(request.model)?.contextWindow;
    const fromWindow = window === undefined ? Infinity : window - completionTokens(request);
    return Math.min(fromWindow, limits.maxPromptTokens ?? Infinity);
  }

  private promptTokens(request: ChatRequest): number {
    return this.tokens.countPrompt(request, this.registry.encodingOf(request.model));
  }

  private trim(request: ChatRequest, limits: TenantLimits) {
    const count = this.tokens.counterFor(this.registry.encodingOf(request.model));
    const fixed = this.tokens.countOverhead(request, count);
    return trimToFit(request.messages, this.budget(request, limits), (message) => this.tokens.countMessage(message, count), fixed);
  }

  /**
   * Replaces the oldest turns with one summary message: as many as trimming would drop, and one
   * more turn at a time (summarized afresh) while the summary itself leaves the prompt too long.
   */
  private async summarize(request: ChatRequest, limits: TenantLimits, summarize: Summarizer) {
    const trimmed = this.trim(request, limits);
    if (!trimmed) return undefined;
    const units = droppableUnits(request.messages);
    const budget = this.budget(request, limits);
    for (let take = unitsCovering(units, trimmed.removed.length); take <= units.length; take++) {
      const removed = new Set(units.slice(0, take).flat());
      const summary = await summarize(request.messages.filter((_, index) => removed.has(index)));
      const summarized = { ...request, messages: withSummary(request.messages, removed, summary) };
      if (this.promptTokens(summarized) <= budget) return { request: summarized, removed: removed.size };
    }
    return undefined;
  }

  private exceeded(request: ChatRequest, limits: TenantLimits, promptTokens: number): ContextLengthExceededError {
    const completion = completionTokens(request);
    const window = this.registry.info(request.model)?.contextWindow;
    if (window !== undefined && promptTokens + completion > window) {
      return new ContextLengthExceededError(
        `This model's maximum context length is ${window} tokens. However, you requested ${promptTokens + completion} tokens ` +
          `(${promptTokens} in the messages, ${completion} in the completion). Please reduce the length of the messages or completion.`,
      );
    }
    return new ContextLengthExceededError(
      `Your plan allows prompts of at most ${limits.maxPromptTokens} tokens. However, your messages resulted in ${promptTokens} tokens. ` +
        'Please reduce the length of the messages.',
    );
  }
}

function completionTokens(request: ChatRequest): number {
  return request.max_completion_tokens ?? request.max_tokens ?? 0;
}

/** How many of the oldest units hold `count` messages (trimming always removes whole units, oldest first). */
function unitsCovering(units: number[][], count: number): number {
  let covered = 0;
  let taken = 0;
  while (covered < count) covered += units[taken++].length;
  return taken;
}

/** The messages without the removed ones, and one system message with the summary where the first of them stood. */
function withSummary(messages: Message[], removed: Set<number>, summary: string): Message[] {
  const first = Math.min(...removed);
  const summaryMessage: Message = { role: 'system', content: `${SUMMARY_PREFIX}${summary}` };
  return messages.flatMap((message, index) => (index === first ? [summaryMessage] : removed.has(index) ? [] : [message]));
}
