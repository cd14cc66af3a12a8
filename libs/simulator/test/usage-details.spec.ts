import { startSimulator, type RunningSimulator } from '@tollgate/simulator';
import { encodeChat } from 'gpt-tokenizer';
import type OpenAI from 'openai';
import { clientFor, collect, MESSAGES, originOf } from './helpers';

const PROMPT_TOKENS = encodeChat(MESSAGES, 'gpt-4o').length;

describe('simulator usage details', () => {
  let sim: RunningSimulator;
  let client: OpenAI;

  beforeAll(async () => {
    sim = await startSimulator();
    client = clientFor(sim);
  });
  afterEach(() => sim.reset());
  afterAll(() => sim.close());

  const complete = (params: Partial<OpenAI.Chat.ChatCompletionCreateParamsNonStreaming> = {}) =>
    client.chat.completions.create({ model: 'gpt-4o', messages: MESSAGES, ...params });

  describe('cached prompt tokens', () => {
    it('should report none by default', async () => {
      const { usage } = await complete();

      expect(usage?.prompt_tokens_details).toEqual({ cached_tokens: 0, audio_tokens: 0 });
    });

    it('should report the configured count, never more than the prompt', async () => {
      sim.configure({ cachedPromptTokens: 5 });
      const some = await complete();
      sim.configure({ cachedPromptTokens: 100_000 });
      const all = await complete();

      expect(some.usage?.prompt_tokens_details?.cached_tokens).toBe(5);
      expect(some.usage?.prompt_tokens).toBe(PROMPT_TOKENS);
      expect(all.usage?.prompt_tokens_details?.cached_tokens).toBe(PROMPT_TOKENS);
    });

    it('should take a fraction below 1 as a share of the prompt, rounded down', async () => {
      sim.configure({ cachedPromptTokens: 0.5 });

      const { usage } = await complete();

      expect(usage?.prompt_tokens_details?.cached_tokens).toBe(Math.floor(PROMPT_TOKENS * 0.5));
    });

    it('should be set through PUT /_simulator/config too, and go back to 0 on reset', async () => {
      const response = await fetch(`${originOf(sim)}/_simulator/config`, { method: 'PUT', body: JSON.stringify({ cachedPromptTokens: 3 }) });
      const configured = await complete();
      sim.reset();
      const afterReset = await complete();

      expect(await response.json()).toMatchObject({ cachedPromptTokens: 3 });
      expect(configured.usage?.prompt_tokens_details?.cached_tokens).toBe(3);
      expect(afterReset.usage?.prompt_tokens_details?.cached_tokens).toBe(0);
    });

    it('should be in the usage chunk of a stream', async () => {
      sim.configure({ cachedPromptTokens: 4 });

      const chunks = await collect(await client.chat.completions.create({ model: 'gpt-4o', messages: MESSAGES, stream: true, stream_options: { include_usage: true } }));

      expect(chunks.at(-1)?.usage?.prompt_tokens_details?.cached_tokens).toBe(4);
    });

    it("should be the Responses API's input_tokens_details.cached_tokens", async () => {
      sim.configure({ cachedPromptTokens: 2 });

      const response = await client.responses.create({ model: 'gpt-4o', input: 'Say hello' });

      expect(response.usage?.input_tokens_details).toEqual({ cached_tokens: 2 });
    });

    it('should refuse a count that is neither a non-negative integer nor a fraction below 1', () => {
      expect(() => sim.configure({ cachedPromptTokens: 1.5 })).toThrow("'cachedPromptTokens' must be a non-negative integer or a fraction below 1");
      expect(() => sim.configure({ cachedPromptTokens: -1 })).toThrow("'cachedPromptTokens'");
    });
  });

  describe('reasoning tokens', () => {
    it('should report none for a model that does not reason', async () => {
      const { usage } = await complete();

      expect(usage?.completion_tokens_details).toEqual({ reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 });
      expect(usage?.completion_tokens).toBe(12);
    });

    it.each(['o1', 'o3', 'o4-mini'])('should count the reasoning of %s among its completion tokens, not on top', async (model) => {
      const { usage, choices } = await complete({ model });

      expect(choices[0].message.content?.split(' ')).toHaveLength(12);
      expect(usage?.completion_tokens_details?.reasoning_tokens).toBe(16);
      expect(usage?.completion_tokens).toBe(12 + 16);
      expect(usage?.total_tokens).toBe(PROMPT_TOKENS + 12 + 16);
    });

    it('should spend max_completion_tokens on reasoning first, and write within what is left', async () => {
      const some = await complete({ model: 'o4-mini', max_completion_tokens: 20 });
      const none = await complete({ model: 'o4-mini', max_completion_tokens: 10 });

      expect(some.choices[0]).toMatchObject({ finish_reason: 'length', message: { content: 'Lorem ipsum dolor sit' } });
      expect(some.usage).toMatchObject({ completion_tokens: 20, completion_tokens_details: { reasoning_tokens: 16 } });
      expect(none.choices[0]).toMatchObject({ finish_reason: 'length', message: { content: '' } });
      expect(none.usage).toMatchObject({ completion_tokens: 10, completion_tokens_details: { reasoning_tokens: 10 } });
    });

    it('should reason once per choice', async () => {
      const { usage } = await complete({ model: 'o4-mini', n: 2 });

      expect(usage).toMatchObject({ completion_tokens: 2 * (12 + 16), completion_tokens_details: { reasoning_tokens: 32 } });
    });
  });
});
