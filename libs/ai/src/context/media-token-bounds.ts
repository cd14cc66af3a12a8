import type { ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import { ImageTokenRule, ModelInfo, TileImageTokens } from '../ai-module-options';

/** The most prompt tokens a model can bill for one media part of each kind, whose size the request does not tell. */
export interface MediaTokenBounds {
  /** An image part with `detail: low`. */
  lowDetailImage: number;
  /** An image part with `detail: high` or `auto`, or none (auto). */
  image: number;
  audioTokensPerSecond: number;
  /** A `file` part, by `file_data` or `file_id`. */
  file: number;
}

/** gpt-4o's and gpt-4.1's tiles; a model billed otherwise says so in its table entry. */
export const DEFAULT_IMAGE_TOKENS: TileImageTokens = { baseTokens: 85, tileTokens: 170 };
// OpenAI bills input audio at one token per 100 ms.
export const DEFAULT_AUDIO_TOKENS_PER_SECOND = 10;
/** The window a file may fill for a model without one: gpt-4.1's 1,047,576 tokens, the largest OpenAI sells. */
export const UNLISTED_MODEL_FILE_TOKENS = 1_047_576;

// Scaled into 2048 × 2048, then its short side down to 768 px, a high-detail image covers at most 2 × 4 tiles of 512 px.
const MAX_TILES = 8;
const DEFAULT_MAX_PATCHES = 1536;
// 8 kbit/s, MP3's lowest bitrate (WAV is far denser): no accepted audio lasts longer per byte.
const AUDIO_BYTES_PER_SECOND = 1_000;

/** What one media part of each kind can cost at most on a model of the table, or with the library's defaults on `undefined`. */
export function mediaTokenBoundsOf(info: ModelInfo | undefined): MediaTokenBounds {
  const image = info?.imageTokens ?? DEFAULT_IMAGE_TOKENS;
  return {
    lowDetailImage: imageTokenBound(image, 'low'),
    image: imageTokenBound(image, 'high'),
    audioTokensPerSecond: info?.audioTokensPerSecond ?? DEFAULT_AUDIO_TOKENS_PER_SECOND,
    file: info?.fileTokens ?? info?.contextWindow ?? UNLISTED_MODEL_FILE_TOKENS,
  };
}

/** The largest of each bound: what a model that could be any of these may bill. */
export function largestMediaTokenBounds(bounds: MediaTokenBounds[]): MediaTokenBounds {
  const largest = (field: keyof MediaTokenBounds) => Math.max(...bounds.map((bound) => bound[field]));
  return { lowDetailImage: largest('lowDetailImage'), image: largest('image'), audioTokensPerSecond: largest('audioTokensPerSecond'), file: largest('file') };
}

/** The most an image of any size can cost: the base and every tile it can cover, or every patch it may keep. */
export function imageTokenBound(rule: ImageTokenRule, detail: 'low' | 'high'): number {
  if ('patchMultiplier' in rule) return Math.ceil((rule.maxPatches ?? DEFAULT_MAX_PATCHES) * rule.patchMultiplier);
  return detail === 'low' ? rule.baseTokens : rule.baseTokens + MAX_TILES * rule.tileTokens;
}

/** The longest the base64 `data` of an audio part can play, in the model's audio tokens. */
export function audioTokenBound(base64Length: number, tokensPerSecond: number): number {
  const bytes = Math.ceil((base64Length * 3) / 4);
  return Math.ceil((bytes / AUDIO_BYTES_PER_SECOND) * tokensPerSecond);
}

/** The most the image, audio and file parts of `messages` can be billed; text parts count elsewhere. */
export function mediaTokenBound(messages: readonly ChatCompletionMessageParam[], bounds: MediaTokenBounds): number {
  let total = 0;
  for (const message of messages) {
    if (Array.isArray(message.content)) total += partsTokenBound(message.content, bounds);
  }
  return total;
}

type ContentPart = Exclude<ChatCompletionMessageParam['content'], string | null | undefined>[number];

/** The most the image, audio and file among `parts` can be billed. */
export function partsTokenBound(parts: readonly ContentPart[], bounds: MediaTokenBounds): number {
  let total = 0;
  for (const part of parts) total += partTokenBound(part, bounds);
  return total;
}

function partTokenBound(part: ContentPart, bounds: MediaTokenBounds): number {
  switch (part.type) {
    case 'image_url':
      return part.image_url?.detail === 'low' ? bounds.lowDetailImage : bounds.image;
    case 'input_audio':
      return audioTokenBound(part.input_audio?.data?.length ?? 0, bounds.audioTokensPerSecond);
    case 'file':
      return bounds.file;
    default:
      return 0;
  }
}
