import { countTokens as countO200kExactly } from 'gpt-tokenizer/encoding/o200k_base';
import type { ChatCompletionCreateParamsBase, ChatCompletionMessageParam, ChatCompletionTool } from 'openai/resources/chat/completions';
import { REPLY_PRIMING, TOKENS_PER_MESSAGE, TokenCounter } from './token-counter';

type Message = ChatCompletionMessageParam;

// OpenAI cookbook, "How to count tokens with tiktoken" (examples/How_to_count_tokens_with_tiktoken.ipynb,
// github.com/openai/openai-cookbook): sections 5, 6 and 7, whose outputs show the API's own usage.prompt_tokens.
const COOKBOOK_MESSAGES: Message[] = [
  { role: 'system', content: 'You are a helpful, pattern-following assistant that translates corporate jargon into plain English.' },
  { role: 'system', name: 'example_user', content: 'New synergies will help drive top-line growth.' },
  { role: 'system', name: 'example_assistant', content: 'Things working well together will increase revenue.' },
  { role: 'system', name: 'example_user', content: "Let's circle back when we have more bandwidth to touch base on opportunities for increased leverage." },
  { role: 'system', name: 'example_assistant', content: "Let's talk later when we're less busy about how to do better." },
  { role: 'user', content: "This late pivot means we don't have time to boil the ocean for the client deliverable." },
];
const WEATHER_TOOL = {
  type: 'function',
  function: {
    name: 'get_current_weather',
    description: 'Get the current weather in a given location',
    parameters: {
      type: 'object',
      properties: {
        location: { type: 'string', description: 'The city and state, e.g. San Francisco, CA' },
        unit: { type: 'string', description: 'The unit of temperature to return', enum: ['celsius', 'fahrenheit'] },
      },
      required: ['location'],
    },
  },
} satisfies ChatCompletionTool;
const COOKBOOK_TOOLS: ChatCompletionTool[] = [WEATHER_TOOL];
const COOKBOOK_TOOL_MESSAGES: Message[] = [
  { role: 'system', content: 'You are a helpful assistant that can answer to questions about the weather.' },
  { role: 'user', content: "What's the weather like in San Francisco?" },
];

describe(TokenCounter.name, () => {
  const counter = new TokenCounter();

  describe("OpenAI cookbook's figures", () => {
    it('should count the example conversation as the API did: 124 tokens for gpt-4o (o200k_base)', () => {
      expect(counter.countPrompt({ messages: COOKBOOK_MESSAGES }, 'o200k_base')).toBe(124);
    });

    it('should count the example conversation as the API did: 129 tokens for gpt-4 and gpt-3.5-turbo (cl100k_base)', () => {
      expect(counter.countPrompt({ messages: COOKBOOK_MESSAGES }, 'cl100k_base')).toBe(129);
    });

    it('should count "お誕生日おめでとう" as 8 o200k_base tokens and 9 cl100k_base ones', () => {
      expect(counter.countText('お誕生日おめでとう', 'o200k_base')).toBe(8);
      expect(counter.countText('お誕生日おめでとう', 'cl100k_base')).toBe(9);
    });

    // The API counted 101 (gpt-4o) and 105 (gpt-4) for these tools and messages. Tool definitions are
    // counted as their JSON, an estimate: it must not fall short, or a reservation would be too small.
    it.each([
      ['o200k_base', 101],
      ['cl100k_base', 105],
    ] as const)('should not count fewer tokens than the API for the tool example (%s: %i)', (encoding, billed) => {
      expect(counter.countPrompt({ messages: COOKBOOK_TOOL_MESSAGES, tools: COOKBOOK_TOOLS }, encoding)).toBeGreaterThanOrEqual(billed);
    });
  });

  describe('embedding inputs', () => {
    it('should count each text with the encoding, token arrays by their length, and add no framing', () => {
      const text = counter.countText('お誕生日おめでとう', 'cl100k_base');

      expect(counter.countEmbeddingInput('お誕生日おめでとう', 'cl100k_base')).toBe(9);
      expect(counter.countEmbeddingInput(['お誕生日おめでとう', 'お誕生日おめでとう'], 'cl100k_base')).toBe(2 * text);
      expect(counter.countEmbeddingInput([101, 102, 103])).toBe(3);
      expect(counter.countEmbeddingInput([[101, 102], [103]])).toBe(3);
    });
  });

  describe('encodings', () => {
    it('should count non-ASCII text differently with cl100k_base and o200k_base', () => {
      const sample = 'Привет, мир! नमस्ते दुनिया. 你好，世界。';

      expect(counter.countText(sample, 'o200k_base')).toBeLessThan(counter.countText(sample, 'cl100k_base'));
    });

    it('should count with o200k_base when no encoding is named', () => {
      const message: Message = { role: 'user', content: 'お誕生日おめでとう' };

      expect(counter.countText('お誕生日おめでとう')).toBe(counter.countText('お誕生日おめでとう', 'o200k_base'));
      expect(counter.countMessage(message)).toBe(counter.countMessage(message, counter.counterFor('o200k_base')));
      expect(counter.countPrompt({ messages: [message] })).toBe(counter.countPrompt({ messages: [message] }, 'o200k_base'));
    });

    it('should count a prompt with the encoding it is given, all the way down', () => {
      const cl100k = counter.counterFor('cl100k_base');
      const messages: Message[] = [{ role: 'user', content: 'お誕生日おめでとう', name: 'たろう' }];

      expect(counter.countPrompt({ messages }, 'cl100k_base')).toBe(counter.countMessage(messages[0], cl100k) + REPLY_PRIMING);
    });
  });

  describe('per-message framing', () => {
    const text = (value: string) => counter.countText(value);

    it('should count 3 + role + content per message, and 3 to prime the reply', () => {
      expect(TOKENS_PER_MESSAGE).toBe(3);
      expect(REPLY_PRIMING).toBe(3);
      expect(counter.countMessage({ role: 'user', content: 'Hello there, friend.' })).toBe(3 + text('user') + text('Hello there, friend.'));
      expect(counter.countPrompt({ messages: [{ role: 'developer', content: 'Be brief.' }] })).toBe(3 + text('developer') + text('Be brief.') + 3);
    });

    it('should count a name as 1 more than its tokens', () => {
      const plain: Message = { role: 'user', content: 'Hi' };

      expect(counter.countMessage({ ...plain, name: 'example_user' })).toBe(counter.countMessage(plain) + 1 + text('example_user'));
    });

    it('should count an empty message as its framing and role alone', () => {
      expect(counter.countMessage({ role: 'assistant', content: '' })).toBe(3 + text('assistant'));
      expect(counter.countMessage({ role: 'assistant', content: null })).toBe(3 + text('assistant'));
    });

    it('should sum the messages and the priming, and count no messages as the priming alone', () => {
      const messages: Message[] = [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: 'Why is the sky blue?' },
      ];

      expect(counter.countPrompt({ messages })).toBe(counter.countMessage(messages[0]) + counter.countMessage(messages[1]) + 3);
      expect(counter.countPrompt({ messages: [] })).toBe(3);
    });

    it("should count an assistant's tool calls as their JSON", () => {
      const toolCalls = [{ id: 'call_1', type: 'function' as const, function: { name: 'get_current_weather', arguments: '{"location":"Paris"}' } }];

      expect(counter.countMessage({ role: 'assistant', content: null, tool_calls: toolCalls })).toBe(3 + text('assistant') + text(JSON.stringify(toolCalls)));
    });

    it('should count a tool result by its content', () => {
      expect(counter.countMessage({ role: 'tool', tool_call_id: 'call_1', content: '18°C, light rain' })).toBe(3 + text('tool') + text('18°C, light rain'));
    });
  });

  describe('content parts', () => {
    it('should count text parts one by one', () => {
      const message: Message = {
        role: 'user',
        content: [
          { type: 'text', text: 'What is in' },
          { type: 'text', text: ' this picture?' },
        ],
      };

      expect(counter.countMessage(message)).toBe(3 + counter.countText('user') + counter.countText('What is in') + counter.countText(' this picture?'));
    });

    it('should count one text part as the same text given as a string', () => {
      const text = 'Describe the weather in Paris.';

      expect(counter.countMessage({ role: 'user', content: [{ type: 'text', text }] })).toBe(counter.countMessage({ role: 'user', content: text }));
    });

    it('should never count parts for less than the same text joined', () => {
      const parts = ['Hel', 'lo wor', 'ld, how are', ' you?'];

      expect(counter.countMessage({ role: 'user', content: parts.map((text) => ({ type: 'text' as const, text })) })).toBeGreaterThanOrEqual(
        counter.countMessage({ role: 'user', content: parts.join('') }),
      );
    });
  });

  describe('tool definitions', () => {
    it('should add the tools as their JSON to the prompt', () => {
      const messages = COOKBOOK_TOOL_MESSAGES;

      expect(counter.countPrompt({ messages, tools: COOKBOOK_TOOLS })).toBe(
        counter.countPrompt({ messages }) + counter.countText(JSON.stringify(COOKBOOK_TOOLS)),
      );
    });

    it('should count an empty tool list as nothing', () => {
      expect(counter.countPrompt({ messages: COOKBOOK_TOOL_MESSAGES, tools: [] })).toBe(counter.countPrompt({ messages: COOKBOOK_TOOL_MESSAGES }));
    });

    it('should count more for more tools', () => {
      const twice = [WEATHER_TOOL, { ...WEATHER_TOOL, function: { ...WEATHER_TOOL.function, name: 'get_forecast' } }];

      expect(counter.countPrompt({ messages: COOKBOOK_TOOL_MESSAGES, tools: twice })).toBeGreaterThan(
        counter.countPrompt({ messages: COOKBOOK_TOOL_MESSAGES, tools: COOKBOOK_TOOLS }),
      );
    });
  });

  it('should count a huge run without whitespace in linear time, close to the exact count', () => {
    const counter = new TokenCounter();
    const exact = countO200kExactly('x'.repeat(2_000));

    // 300 000 letters in one run took gpt-tokenizer about a minute; sliced, it is a fraction of a second.
    const huge = counter.countText('x'.repeat(300_000));
    const sliced = counter.countText('x'.repeat(2_000));

    expect(huge).toBeGreaterThan(300_000 / 16);
    expect(sliced).toBeGreaterThanOrEqual(exact);
    expect(sliced).toBeLessThanOrEqual(exact * 1.2 + 16);
  });

  it('should count a long run in a tool call’s arguments in slices, as it counts any text', () => {
    const toolCalls = [{ id: 'call_1', type: 'function' as const, function: { name: 'lookup', arguments: JSON.stringify({ id: 'x'.repeat(2_000) }) } }];

    expect(counter.countMessage({ role: 'assistant', content: null, tool_calls: toolCalls })).toBe(
      3 + counter.countText('assistant') + counter.countText(JSON.stringify(toolCalls)),
    );
  });

  // Each half of a cut pair is tokenized as U+FFFD: 𝔘 is 3 tokens, its halves 1 each, so cutting undercounted.
  it('should not cut a character in two when it slices a long run', () => {
    const run = `a${'𝔘'.repeat(200)}`;

    expect(counter.countText(run)).toBeGreaterThanOrEqual(countO200kExactly(run));
  });

  describe('the upper bound', () => {
    const bytes = (text: string) => Buffer.byteLength(text);
    const samples: Array<[string, Pick<ChatCompletionCreateParamsBase, 'messages' | 'tools'>]> = [
      ['the cookbook conversation', { messages: COOKBOOK_MESSAGES }],
      ['the cookbook tool example', { messages: COOKBOOK_TOOL_MESSAGES, tools: COOKBOOK_TOOLS }],
      ['no messages', { messages: [] }],
      ['text in many scripts', { messages: [{ role: 'user', content: 'Привет, мир! नमस्ते दुनिया. 你好，世界。 お誕生日おめでとう 🦄🦄' }] }],
      ['lone surrogates', { messages: [{ role: 'user', content: '\ud800 a \udc00\ud800' }] }],
      ['a long run of astral characters', { messages: [{ role: 'user', content: `a${'𝔘'.repeat(500)}` }] }],
      [
        'parts, a name and tool calls',
        {
          messages: [
            { role: 'user', name: 'たろう', content: [{ type: 'text', text: 'What is in' }, { type: 'text', text: ' this picture?' }] },
            { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'f', arguments: '{"q":"東京"}' } }] },
          ],
        },
      ],
    ];

    it.each(samples)('should never be below the count, in either encoding: %s', (_, prompt) => {
      expect(counter.boundPrompt(prompt)).toBeGreaterThanOrEqual(counter.countPrompt(prompt, 'o200k_base'));
      expect(counter.boundPrompt(prompt)).toBeGreaterThanOrEqual(counter.countPrompt(prompt, 'cl100k_base'));
    });

    it('should be the framing plus the UTF-8 bytes of the text', () => {
      const message: Message = { role: 'user', name: 'ann', content: 'Grüße, 東京!' };

      expect(counter.boundPrompt({ messages: [message], tools: COOKBOOK_TOOLS })).toBe(
        3 + bytes('user') + 1 + bytes('ann') + bytes('Grüße, 東京!') + bytes(JSON.stringify(COOKBOOK_TOOLS)) + 3,
      );
    });
  });
});
