import type { ChatCompletionContentPart, ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import {
  audioTokenBound,
  DEFAULT_AUDIO_TOKENS_PER_SECOND,
  imageTokenBound,
  largestMediaTokenBounds,
  MediaTokenBounds,
  mediaTokenBound,
  mediaTokenBoundsOf,
  UNLISTED_MODEL_FILE_TOKENS,
} from './media-token-bounds';

const PRICE = { inputPerMillionUsd: 1, outputPerMillionUsd: 2 };
const BOUNDS: MediaTokenBounds = { lowDetailImage: 85, image: 1_445, audioTokensPerSecond: 10, file: 128_000 };

const image = (detail?: 'low' | 'high' | 'auto'): ChatCompletionContentPart => ({ type: 'image_url', image_url: { url: 'https://example.com/a.png', ...(detail ? { detail } : {}) } });
const userSaying = (...content: ChatCompletionContentPart[]): ChatCompletionMessageParam => ({ role: 'user', content });

describe('media token bounds', () => {
  describe(imageTokenBound.name, () => {
    // OpenAI's worked example: a 2048 × 4096 image is scaled to 768 × 1536, 6 tiles, 1,105 tokens; 768 × 2048 is the most, 8 tiles.
    it('should bound a tiled image by its base at low detail, and by its base and 8 tiles otherwise', () => {
      expect(imageTokenBound({ baseTokens: 85, tileTokens: 170 }, 'low')).toBe(85);
      expect(imageTokenBound({ baseTokens: 85, tileTokens: 170 }, 'high')).toBe(85 + 8 * 170);
      expect(imageTokenBound({ baseTokens: 85, tileTokens: 170 }, 'high')).toBeGreaterThan(1_105);
    });

    it('should bound a patched image by 1536 patches times its multiplier, rounded up, whatever the detail', () => {
      expect(imageTokenBound({ patchMultiplier: 1.62 }, 'high')).toBe(2_489);
      expect(imageTokenBound({ patchMultiplier: 2.46 }, 'low')).toBe(3_779);
      expect(imageTokenBound({ patchMultiplier: 1, maxPatches: 100 }, 'high')).toBe(100);
    });
  });

  describe(audioTokenBound.name, () => {
    it('should bound audio by the seconds its decoded bytes last at 8 kbit/s', () => {
      // 4,000 base64 characters are 3,000 bytes: 3 s at 1,000 bytes a second.
      expect(audioTokenBound(4_000, 10)).toBe(30);
      expect(audioTokenBound(1, 10)).toBe(1);
      expect(audioTokenBound(0, 10)).toBe(0);
    });
  });

  describe(mediaTokenBoundsOf.name, () => {
    it('should take a listed model’s rules, and its window for a file', () => {
      const bounds = mediaTokenBoundsOf({ ...PRICE, contextWindow: 50_000, imageTokens: { baseTokens: 2_833, tileTokens: 5_667 }, audioTokensPerSecond: 160 });

      expect(bounds).toEqual({ lowDetailImage: 2_833, image: 2_833 + 8 * 5_667, audioTokensPerSecond: 160, file: 50_000 });
    });

    it('should fall back to gpt-4o’s tiles, 10 audio tokens a second and the largest window', () => {
      expect(mediaTokenBoundsOf(undefined)).toEqual({
        lowDetailImage: 85,
        image: 1_445,
        audioTokensPerSecond: DEFAULT_AUDIO_TOKENS_PER_SECOND,
        file: UNLISTED_MODEL_FILE_TOKENS,
      });
      expect(mediaTokenBoundsOf({ ...PRICE, fileTokens: 7 }).file).toBe(7);
    });
  });

  describe(largestMediaTokenBounds.name, () => {
    it('should take the largest of each bound', () => {
      const largest = largestMediaTokenBounds([BOUNDS, { lowDetailImage: 3_779, image: 3_779, audioTokensPerSecond: 1, file: 10 }]);

      expect(largest).toEqual({ lowDetailImage: 3_779, image: 3_779, audioTokensPerSecond: 10, file: 128_000 });
    });
  });

  describe(mediaTokenBound.name, () => {
    it('should add every media part of every message, by kind and detail', () => {
      const messages: ChatCompletionMessageParam[] = [
        userSaying({ type: 'text', text: 'Compare these.' }, image('low'), image('high'), image('auto'), image()),
        userSaying({ type: 'input_audio', input_audio: { data: 'A'.repeat(4_000), format: 'mp3' } }),
        userSaying({ type: 'file', file: { file_id: 'file-1' } }, { type: 'file', file: { file_data: 'JVBERi0=', filename: 'a.pdf' } }),
      ];

      expect(mediaTokenBound(messages, BOUNDS)).toBe(85 + 3 * 1_445 + 30 + 2 * 128_000);
    });

    it('should count nothing for text, a string content or a message without content', () => {
      const messages: ChatCompletionMessageParam[] = [
        { role: 'system', content: 'Be brief.' },
        userSaying({ type: 'text', text: 'Hello.' }),
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'f', arguments: '{}' } }] },
      ];

      expect(mediaTokenBound(messages, BOUNDS)).toBe(0);
    });
  });
});
