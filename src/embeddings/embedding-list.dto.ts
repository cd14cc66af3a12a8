import { ApiProperty } from '@nestjs/swagger';
import type { CreateEmbeddingResponse, Embedding } from 'openai/resources/embeddings';

// OpenAI's embeddings answer, as the gateway relays it from the upstream: documented only, checked against the SDK's type.

export class EmbeddingDto implements Embedding {
  @ApiProperty({ enum: ['embedding'] })
  object: 'embedding';

  @ApiProperty({ description: 'Which input this is the embedding of.' })
  index: number;

  @ApiProperty({
    oneOf: [{ type: 'array', items: { type: 'number' } }, { type: 'string' }],
    description: 'The vector; with `encoding_format: "base64"`, its little-endian float32 bytes in base64.',
  })
  embedding: number[];
}

export class EmbeddingUsageDto implements CreateEmbeddingResponse.Usage {
  @ApiProperty()
  prompt_tokens: number;

  @ApiProperty()
  total_tokens: number;
}

export class EmbeddingListDto implements CreateEmbeddingResponse {
  @ApiProperty({ enum: ['list'] })
  object: 'list';

  @ApiProperty({ type: [EmbeddingDto] })
  data: EmbeddingDto[];

  @ApiProperty({ example: 'text-embedding-3-small' })
  model: string;

  @ApiProperty({ type: EmbeddingUsageDto })
  usage: EmbeddingUsageDto;
}
