import type { CreateEmbeddingResponse, EmbeddingCreateParams } from 'openai/resources/embeddings';
import type { TenantRateLimitStates } from '../limits/rate-limit-state';

/** An OpenAI embeddings request. */
export type EmbeddingRequest = EmbeddingCreateParams;

export interface EmbeddingResult {
  embeddings: CreateEmbeddingResponse;
  /** The model that answered: the requested one or a fallback. */
  model: string;
  /** Upstream calls made, retries and fallbacks included. */
  attempts: number;
  upstreamRequestId?: string;
  /** The name of the upstream that answered. */
  upstream: string;
  /** Where the tenant stands against its rate limits after this call. */
  rateLimits: TenantRateLimitStates;
}
