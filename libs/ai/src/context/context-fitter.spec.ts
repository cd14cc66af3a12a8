import type { ChatCompletionMessageParam, ChatCompletionTool } from 'openai/resources/chat/completions';
import { aChatRequest, resolvedOptions } from '../../test/factories';
import type { ModelInfo } from '../ai-module-options';
import type { ChatRequest } from '../ai.service';
import { ContextLengthExceededError } from '../errors/ai-errors';
import { CONTEXT_POLICIES, ContextPolicy, TenantLimits, UNLIMITED } from '../tenancy/tenant-limits';
import { ContextFitter, EXACT_COUNT_UP_TO, Summarizer } from './context-fitter';
import { ModelRegistry } from './model-registry';
import { TokenCounter } from './token-counter';

type Message = ChatCompletionMessageParam;

const PRICE = { inputPerMillionUsd: 1, outputPerMillionUsd: 2 };
const MODELS: Record<string, ModelInfo> = {
  small: { ...PRICE, contextWindow: 300, largerContextModel: 'large' },
  large: { ...PRICE, contextWindow: 3_000 },
  /** Its sibling is no larger, so an upgrade cannot help. */
  cramped: { ...PRICE, contextWindow: 300, largerContextModel: 'also-cramped' },
  'also-cramped': { ...PRICE, contextWindow: 310 },
  lonely: { ...PRICE, contextWindow: 300 },
  legacy: { ...PRICE, contextWindow: 300, encoding: 'cl100k_base' },
  huge: { ...PRICE, contextWindow: 10_000_000 },
  /** gpt-4.1's window and largest reply. */
  wide: { ...PRICE, contextWindow: 1_047_576, maxOutputTokens: 32_768 },
};

/** About two o200k tokens per word. */
const words = (count: number) => Array.from({ length: count }, (_, i) => `word${i % 50}`).join(' ');

const system: Message = { role: 'system', content: 'You are terse.' };
const lastQuestion: Message = { role: 'user', content: 'So, what is the answer?' };

/** A system message, six old turns of about 80 tokens, a short last question: ~550 tokens. */
function longConversation(): Message[] {
  const turns = Array.from({ length: 6 }, (_, i): Message => ({ role: i % 2 ? 'assistant' : 'user', content: `${i}: ${words(40)}` }));
  return [system, ...turns, lastQuestion];
}

const aPlan = (overrides: Partial<TenantLimits> = {}): TenantLimits => ({ ...UNLIMITED, ...overrides });

describe(ContextFitter.name, () => {
  const counter = new TokenCounter();
  const registry = new ModelRegistry(resolvedOptions({ models: MODELS }).models);
  const fitter = new ContextFitter(registry, counter);
  let summarize: jest.Mock<Promise<string>, Parameters<Summarizer>>;

  beforeEach(() => {
    summarize = jest.fn<Promise<string>, Parameters<Summarizer>>(async () => 'They discussed words.');
  });

  const promptOf = (request: ChatRequest) => counter.countPrompt(request, registry.encodingOf(request.model));
  const aLongRequest = (overrides: Partial<ChatRequest> = {}) => aChatRequest({ model: 'small', messages: longConversation(), ...overrides });

  async function rejectionOf(promise: Promise<unknown>): Promise<ContextLengthExceededError> {
    const error = await promise.then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(ContextLengthExceededError);
    return error as ContextLengthExceededError;
  }

  it('should build a conversation over the small window that fits the large one', () => {
    expect(promptOf(aLongRequest())).toBeGreaterThan(MODELS.small.contextWindow!);
    expect(promptOf(aLongRequest())).toBeLessThan(MODELS.large.contextWindow! / 2);
  });

  describe('a request that fits', () => {
    it.each(CONTEXT_POLICIES)('should return it untouched with action none under %s', async (policy) => {
      const request = aChatRequest({ model: 'small', messages: [system, lastQuestion], max_tokens: 100 });

      const outcome = await fitter.fit(request, aPlan(), policy, summarize);

      expect(outcome).toEqual({ request, action: 'none', policy, promptTokens: promptOf(request), promptCount: 'exact', removedMessages: 0 });
      expect(outcome.request).toBe(request);
      expect(summarize).not.toHaveBeenCalled();
    });

    it('should leave a model missing from the table unchecked', async () => {
      const request = aLongRequest({ model: 'unlisted' });

      await expect(fitter.fit(request, aPlan(), 'reject', summarize)).resolves.toMatchObject({ request, action: 'none' });
    });

    it('should accept a prompt that exactly fills the window less the completion', async () => {
      const request = aLongRequest({ model: 'large' });
      const completion = MODELS.large.contextWindow! - promptOf(request);

      await expect(fitter.fit({ ...request, max_tokens: completion }, aPlan(), 'reject', summarize)).resolves.toMatchObject({ action: 'none' });
      await rejectionOf(fitter.fit({ ...request, max_tokens: completion + 1 }, aPlan(), 'reject', summarize));
    });
  });

  describe('reject', () => {
    it('should state the prompt tokens, the completion tokens and the window', async () => {
      const request = aLongRequest({ max_tokens: 50 });
      const prompt = promptOf(request);

      const error = await rejectionOf(fitter.fit(request, aPlan(), 'reject', summarize));

      expect(error.code).toBe('context_length_exceeded');
      expect(error.param).toBe('messages');
      expect(error.message).toBe(
        `This model's maximum context length is 300 tokens. However, you requested ${prompt + 50} tokens ` +
          `(${prompt} in the messages, 50 in the completion). Please reduce the length of the messages or completion.`,
      );
      expect(summarize).not.toHaveBeenCalled();
    });

    it('should count max_completion_tokens before the legacy max_tokens', async () => {
      const request = aLongRequest({ max_completion_tokens: 70, max_tokens: 50 });

      const error = await rejectionOf(fitter.fit(request, aPlan(), 'reject', summarize));

      expect(error.message).toContain('70 in the completion');
    });

    it('should reject a prompt that fits only if the completion is left out', async () => {
      const request = aChatRequest({ model: 'small', messages: [system, { role: 'user', content: words(100) }] });
      expect(promptOf(request)).toBeLessThan(300);

      const error = await rejectionOf(fitter.fit({ ...request, max_tokens: 300 - promptOf(request) + 1 }, aPlan(), 'reject', summarize));

      expect(error.message).toContain(`However, you requested 301 tokens (${promptOf(request)} in the messages`);
    });

    it("should state the plan's maxPromptTokens and the prompt tokens when the plan's cap is what is exceeded", async () => {
      const request = aLongRequest({ model: 'huge', max_tokens: 50 });

      const error = await rejectionOf(fitter.fit(request, aPlan({ maxPromptTokens: 200 }), 'reject', summarize));

      expect(error.message).toBe(
        `Your plan allows prompts of at most 200 tokens. However, your messages resulted in ${promptOf(request)} tokens. ` +
          'Please reduce the length of the messages.',
      );
    });

    it('should count with the model’s encoding', async () => {
      // Japanese takes fewer o200k tokens than cl100k ones; English words here take as many.
      const request = aChatRequest({ model: 'legacy', messages: [{ role: 'user', content: 'お誕生日おめでとう'.repeat(40) }] });

      const error = await rejectionOf(fitter.fit(request, aPlan(), 'reject', summarize));

      expect(error.message).toContain(`(${counter.countPrompt(request, 'cl100k_base')} in the messages`);
      expect(counter.countPrompt(request, 'cl100k_base')).not.toBe(counter.countPrompt(request, 'o200k_base'));
    });
  });

  describe('trim', () => {
    it('should drop the oldest turns, keep the system message and the last question, and fit the window less the completion', async () => {
      const request = aLongRequest({ max_tokens: 50 });

      const outcome = await fitter.fit(request, aPlan(), 'trim', summarize);

      const kept = outcome.request.messages;
      expect(outcome.action).toBe('trimmed');
      expect(kept[0]).toBe(system);
      expect(kept.at(-1)).toBe(lastQuestion);
      expect(kept).toEqual([system, ...request.messages.slice(request.messages.length - kept.length + 1)]);
      expect(outcome.removedMessages).toBe(request.messages.length - kept.length);
      expect(outcome.promptTokens).toBe(promptOf(outcome.request));
      expect(outcome.promptTokens).toBeLessThanOrEqual(300 - 50);
      expect(outcome.request).toEqual({ ...request, messages: kept });
      expect(summarize).not.toHaveBeenCalled();
    });

    it('should count the tool definitions against the room', async () => {
      const tools: ChatCompletionTool[] = [
        { type: 'function', function: { name: 'lookup', description: words(20), parameters: { type: 'object', properties: {} } } },
      ];
      const withTools = aLongRequest({ tools, max_tokens: 50 });

      const outcome = await fitter.fit(withTools, aPlan(), 'trim', summarize);
      const withoutTools = await fitter.fit(aLongRequest({ max_tokens: 50 }), aPlan(), 'trim', summarize);

      expect(outcome.promptTokens).toBe(promptOf(outcome.request));
      expect(outcome.promptTokens).toBeLessThanOrEqual(250);
      expect(outcome.removedMessages).toBeGreaterThan(withoutTools.removedMessages);
    });

    it('should reject with the original counts when the system message and the last question alone do not fit', async () => {
      const request = aChatRequest({ model: 'small', messages: [system, { role: 'user', content: words(10) }, { role: 'user', content: words(200) }] });

      const error = await rejectionOf(fitter.fit(request, aPlan(), 'trim', summarize));

      expect(error.message).toContain(`(${promptOf(request)} in the messages, 0 in the completion)`);
    });

    it("should trim to the plan's maxPromptTokens even on a model with a huge window", async () => {
      const outcome = await fitter.fit(aLongRequest({ model: 'huge' }), aPlan({ maxPromptTokens: 200 }), 'trim', summarize);

      expect(outcome.action).toBe('trimmed');
      expect(outcome.promptTokens).toBeLessThanOrEqual(200);
    });
  });

  describe('upgrade', () => {
    it('should switch to the larger-context sibling when the prompt fits there', async () => {
      const request = aLongRequest({ max_tokens: 50 });

      const outcome = await fitter.fit(request, aPlan(), 'upgrade', summarize);

      expect(outcome).toEqual({
        request: { ...request, model: 'large' },
        action: 'upgraded',
        policy: 'upgrade',
        promptTokens: promptOf(request),
        promptCount: 'exact',
        removedMessages: 0,
      });
    });

    it('should reject when the prompt does not fit the sibling either', async () => {
      const request = aLongRequest({ model: 'cramped' });

      const error = await rejectionOf(fitter.fit(request, aPlan(), 'upgrade', summarize));

      expect(error.message).toContain('maximum context length is 300 tokens');
    });

    it('should reject when the sibling’s window is exceeded by the completion', async () => {
      await rejectionOf(fitter.fit(aLongRequest({ max_tokens: 2_800 }), aPlan(), 'upgrade', summarize));
    });

    it('should reject when the model has no sibling', async () => {
      await rejectionOf(fitter.fit(aLongRequest({ model: 'lonely' }), aPlan(), 'upgrade', summarize));
    });

    it("should reject when the plan's maxPromptTokens is exceeded, whatever the sibling's window", async () => {
      const error = await rejectionOf(fitter.fit(aLongRequest({ model: 'huge' }), aPlan({ maxPromptTokens: 200 }), 'upgrade', summarize));

      expect(error.message).toContain('Your plan allows prompts of at most 200 tokens');
    });
  });

  describe('summarize', () => {
    it('should call the summarizer once with exactly the removed messages, and put one system summary where they were', async () => {
      const request = aLongRequest({ max_tokens: 50 });

      const outcome = await fitter.fit(request, aPlan(), 'summarize', summarize);

      expect(summarize).toHaveBeenCalledTimes(1);
      const [removed] = summarize.mock.calls[0];
      expect(removed.length).toBeGreaterThan(0);
      expect(removed).toEqual(request.messages.slice(1, 1 + removed.length));
      expect(outcome.request.messages).toEqual([
        system,
        { role: 'system', content: 'Summary of the earlier conversation: They discussed words.' },
        ...request.messages.slice(1 + removed.length),
      ]);
      expect(outcome).toMatchObject({ action: 'summarized', policy: 'summarize', removedMessages: removed.length });
      expect(outcome.promptTokens).toBe(promptOf(outcome.request));
      expect(outcome.promptTokens).toBeLessThanOrEqual(250);
    });

    it('should put the summary where the first removed turn was when instructions sit among the turns', async () => {
      const note: Message = { role: 'developer', content: 'Answer in English.' };
      const [first, ...rest] = longConversation().slice(1);
      const request = aChatRequest({ model: 'small', messages: [first, note, ...rest] });

      const outcome = await fitter.fit(request, aPlan(), 'summarize', summarize);

      expect(outcome.request.messages[0]).toEqual({ role: 'system', content: 'Summary of the earlier conversation: They discussed words.' });
      expect(outcome.request.messages[1]).toBe(note);
      expect(summarize.mock.calls[0][0]).not.toContain(note);
    });

    it('should reject when the summary itself does not fit', async () => {
      summarize.mockResolvedValue(words(300));

      await rejectionOf(fitter.fit(aLongRequest(), aPlan(), 'summarize', summarize));
    });

    it('should reject without calling the summarizer when nothing removable would make room', async () => {
      const request = aChatRequest({ model: 'small', messages: [system, { role: 'user', content: words(200) }] });

      await rejectionOf(fitter.fit(request, aPlan(), 'summarize', summarize));
      expect(summarize).not.toHaveBeenCalled();
    });

    it('should let a failing summarizer’s error through', async () => {
      summarize.mockRejectedValue(new Error('summary model down'));

      await expect(fitter.fit(aLongRequest(), aPlan(), 'summarize', summarize)).rejects.toThrow('summary model down');
    });

    // The least trim may leave no room for the summary message itself: one more old turn is folded into it.
    it('should fold more old turns into the summary when the least trim leaves no room for it', async () => {
      const messages: Message[] = [system, { role: 'user', content: words(20) }, { role: 'assistant', content: words(10) }, lastQuestion];
      const sizes = messages.map((message) => counter.countMessage(message));
      const total = promptOf(aChatRequest({ messages }));
      // A window one token over what dropping the first old turn alone leaves.
      const tightFitter = new ContextFitter(
        new ModelRegistry(resolvedOptions({ models: { tight: { ...PRICE, contextWindow: total - sizes[1] + 1 } } }).models),
        counter,
      );
      const request = aChatRequest({ model: 'tight', messages });
      summarize.mockResolvedValue('Words.');
      const bothReplaced = aChatRequest({ model: 'tight', messages: [system, { role: 'system', content: 'Summary of the earlier conversation: Words.' }, lastQuestion] });
      expect(promptOf(bothReplaced)).toBeLessThanOrEqual(total - sizes[1] + 1);
      await expect(tightFitter.fit(request, aPlan(), 'trim', summarize)).resolves.toMatchObject({ action: 'trimmed' });

      const outcome = await tightFitter.fit(request, aPlan(), 'summarize', summarize);

      expect(outcome.action).toBe('summarized');
      expect(outcome.request.messages.at(-1)).toBe(lastQuestion);
    });

    // Removal is by position, not by reference: a message object used twice keeps its later copy.
    it('should keep the last user turn even when the same message object was also among the removed turns', async () => {
      const again: Message = { role: 'user', content: 'Again?' };
      const request = aChatRequest({
        model: 'small',
        messages: [again, { role: 'assistant', content: words(200) }, { role: 'assistant', content: words(5) }, again],
      });

      const outcome = await fitter.fit(request, aPlan(), 'summarize', summarize);

      expect(summarize).toHaveBeenCalledWith(request.messages.slice(0, 2));
      expect(outcome.request.messages.map((message) => message.role)).toEqual(['system', 'assistant', 'user']);
      expect(outcome.request.messages.at(-1)).toBe(again);
    });
  });

  it('should fit by the policy it is given, not the plan’s', async () => {
    const policies: ContextPolicy[] = ['trim', 'upgrade'];
    const plan = aPlan({ contextPolicy: 'reject' });

    const actions = await Promise.all(policies.map(async (policy) => (await fitter.fit(aLongRequest(), plan, policy, summarize)).action));

    expect(actions).toEqual(['trimmed', 'upgraded']);
  });

  describe('counting a long prompt', () => {
    /** About 100,000 o200k tokens (some 350 KB of text) in 200 turns. */
    const hundredThousandTokens = (): Message[] => [
      system,
      ...Array.from({ length: 200 }, (_, i): Message => ({ role: i % 2 ? 'assistant' : 'user', content: words(250) })),
    ];
    const wideRequest = (overrides: Partial<ChatRequest> = {}) => aChatRequest({ model: 'wide', messages: hundredThousandTokens(), ...overrides });
    let exactCounts: jest.SpyInstance;

    beforeEach(() => {
      exactCounts = jest.spyOn(counter, 'countPrompt');
    });

    afterEach(() => exactCounts.mockRestore());

    it('should build a prompt of about 100,000 tokens whose bound is several times that, far inside the wide window', () => {
      const request = wideRequest();
      const exact = promptOf(request);

      expect(exact).toBeGreaterThan(95_000);
      expect(exact).toBeLessThan(105_000);
      expect(counter.boundPrompt(request)).toBeGreaterThan(3 * exact);
      expect(counter.boundPrompt(request)).toBeLessThan(MODELS.wide.contextWindow! / 2);
    });

    it('should not tokenize a 100,000-token prompt that plainly fits a 1M window, and report its bound', async () => {
      const request = wideRequest();

      const outcome = await fitter.fit(request, aPlan(), 'reject', summarize);

      expect(exactCounts).not.toHaveBeenCalled();
      expect(outcome).toMatchObject({ request, action: 'none', promptCount: 'bound', promptTokens: counter.boundPrompt(request) });
      expect(outcome.promptTokens).toBeGreaterThanOrEqual(promptOf(request));
    });

    it.each([{ tokensPerMinute: 1_000_000 }, { tokensPerMonth: 10_000_000 }, { costPerMonthUsd: 100 }])(
      'should count exactly a long prompt of a tenant with a limit in tokens or cost (%o): the bound would be charged against it',
      async (limit) => {
        const request = wideRequest();

        const outcome = await fitter.fit(request, aPlan(limit), 'reject', summarize);

        expect(exactCounts).toHaveBeenCalled();
        expect(outcome).toMatchObject({ promptCount: 'exact', promptTokens: promptOf(request) });
      },
    );

    it('should count exactly a prompt whose bound is over the window but whose tokens fit it', async () => {
      const request = wideRequest();
      const exact = promptOf(request);
      exactCounts.mockClear();
      const nearTheWindow = { ...request, max_tokens: MODELS.wide.contextWindow! - exact };

      const outcome = await fitter.fit(nearTheWindow, aPlan(), 'reject', summarize);

      expect(exactCounts).toHaveBeenCalledTimes(1);
      expect(outcome).toMatchObject({ action: 'none', promptCount: 'exact', promptTokens: exact });
      await rejectionOf(fitter.fit({ ...nearTheWindow, max_tokens: nearTheWindow.max_tokens + 1 }, aPlan(), 'reject', summarize));
    });

    it('should count exactly a prompt whose bound fits the plan’s largest prompt only roughly', async () => {
      const request = wideRequest();
      const exact = promptOf(request);
      exactCounts.mockClear();

      const outcome = await fitter.fit(request, aPlan({ maxPromptTokens: exact }), 'reject', summarize);

      expect(exactCounts).toHaveBeenCalled();
      expect(outcome).toMatchObject({ action: 'none', promptCount: 'exact', promptTokens: exact });
      await rejectionOf(fitter.fit(request, aPlan({ maxPromptTokens: exact - 1 }), 'reject', summarize));
    });

    // The completion allowance is the room the prompt leaves: a bound that took some of the reply's room would shrink it.
    it('should count exactly a prompt whose bound fits the window but would leave the model less than its largest reply', async () => {
      const window = MODELS.wide.contextWindow!;
      const request = wideRequest();
      const bound = counter.boundPrompt(request);
      const tightModel = { ...PRICE, contextWindow: bound + 1_000, maxOutputTokens: 32_768 };
      const tighter = new ContextFitter(new ModelRegistry(resolvedOptions({ models: { tight: tightModel } }).models), counter);
      expect(bound + 32_768).toBeLessThan(window);

      const outcome = await tighter.fit({ ...request, model: 'tight' }, aPlan(), 'reject', summarize);

      expect(outcome).toMatchObject({ action: 'none', promptCount: 'exact', promptTokens: promptOf(request) });
    });

    it(`should count exactly a prompt of up to ${EXACT_COUNT_UP_TO} bound tokens, however much room it has`, async () => {
      const request = aChatRequest({ model: 'wide', messages: [system, { role: 'user', content: words(900) }] });
      expect(counter.boundPrompt(request)).toBeGreaterThan(5_000);
      expect(counter.boundPrompt(request)).toBeLessThanOrEqual(EXACT_COUNT_UP_TO);

      const outcome = await fitter.fit(request, aPlan(), 'reject', summarize);

      expect(outcome).toMatchObject({ action: 'none', promptCount: 'exact', promptTokens: promptOf(request) });
    });

    it('should trim a long prompt that does not fit by its exact counts', async () => {
      const request = wideRequest();
      const exact = promptOf(request);

      const outcome = await fitter.fit(request, aPlan({ maxPromptTokens: exact - 1_000 }), 'trim', summarize);

      expect(outcome).toMatchObject({ action: 'trimmed', promptCount: 'exact' });
      expect(outcome.promptTokens).toBe(promptOf(outcome.request));
      expect(outcome.promptTokens).toBeLessThanOrEqual(exact - 1_000);
    });
  });
});
