import { REPLY_PRIMING, TOKENS_PER_MESSAGE } from '../context/token-counter';
import { meteredResponse } from './metered-response';
import type { ResponseRequest } from './response-request';

// One token per word, so that counts read at a glance.
const words = (text: string) => text.split(/\s+/).filter(Boolean).length;
const WINDOW = 128_000;
const metered = (request: Partial<ResponseRequest>) => meteredResponse({ model: 'gpt-4o', ...request }, words, WINDOW);

describe(meteredResponse.name, () => {
  it('should count a string input and the instructions as one message each, and the reply priming', () => {
    const call = metered({ input: 'say hello now', instructions: 'be brief' });

    expect(call).toMatchObject({ endpoint: 'responses', model: 'gpt-4o', choices: 1, mediaParts: [], content: { input: 'say hello now' } });
    expect(call.promptTokens).toBe(REPLY_PRIMING + 2 * TOKENS_PER_MESSAGE + 3 + 2);
  });

  it('should count the text of every item, leaving out ids, types and media data', () => {
    const call = metered({
      input: [
        { role: 'user', content: [{ type: 'input_text', text: 'what is this' }, { type: 'input_image', image_url: 'data:image/png;base64,AAAA AAAA', detail: 'low' }] },
        { type: 'function_call', call_id: 'call_1', name: 'lookup', arguments: '{"q": "x"}' },
        { type: 'function_call_output', call_id: 'call_1', output: 'found it' },
      ],
    });

    // user + 3 words; lookup + 2 words of arguments; 2 words of output
    expect(call.promptTokens).toBe(REPLY_PRIMING + 3 * TOKENS_PER_MESSAGE + 4 + 3 + 2);
    expect(call.mediaParts).toEqual([{ type: 'image_url', image_url: { url: '', detail: 'low' } }]);
  });

  it('should bound images, files and audio as media parts', () => {
    const call = metered({
      input: [
        {
          role: 'user',
          content: [
            { type: 'input_image', image_url: 'https://x/y.png', detail: 'auto' },
            { type: 'input_file', file_id: 'file_1' },
            { type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } } as never,
          ],
        },
      ],
    });

    expect(call.mediaParts.map((part) => part.type)).toEqual(['image_url', 'file', 'input_audio']);
    expect(call.mediaParts[0]).toMatchObject({ image_url: { detail: 'high' } });
    expect(call.mediaParts[2]).toMatchObject({ input_audio: { data: 'AAAA' } });
  });

  it('should count tools and the output format, and take max_output_tokens as the completion limit', () => {
    const bare = metered({ input: 'hi' });
    const call = metered({ input: 'hi', tools: [{ type: 'function', name: 'f', parameters: null, strict: true }], text: { format: { type: 'text' } }, max_output_tokens: 64 });

    expect(call.promptTokens).toBeGreaterThan(bare.promptTokens);
    expect(call.completionLimit).toBe(64);
    expect(bare.completionLimit).toBeUndefined();
  });

  it.each<[string, Partial<ResponseRequest>]>([
    ['a previous response', { previous_response_id: 'resp_0' }],
    ['a conversation', { conversation: 'conv_1' }],
    ['a stored prompt', { prompt: { id: 'pmpt_1' } }],
    ['a referenced item', { input: [{ type: 'item_reference', id: 'msg_0' }] }],
    ['an item given by its id alone', { input: [{ id: 'msg_0' } as never] }],
    ['a hosted tool', { tools: [{ type: 'web_search' }] }],
  ])('should reserve the prompt at the largest window when it holds input nobody sent: %s', (_case, request) => {
    expect(metered({ input: 'hi', ...request }).promptTokens).toBe(WINDOW);
  });

  it('should count a function tool as input that was sent', () => {
    expect(metered({ input: 'hi', tools: [{ type: 'function', name: 'f', parameters: null, strict: null }] }).promptTokens).toBeLessThan(WINDOW);
  });
});
