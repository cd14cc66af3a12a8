import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import type { Response, ResponseStatus, ResponseUsage } from 'openai/resources/responses/responses';

// OpenAI's response object and its stream's events, as the gateway relays them from the upstream: documented
// only, in the fields the gateway reads (the rest are the upstream's, passed on as sent), checked against the SDK's type.

// A record, so that a status the SDK adds fails to compile until it is listed.
const RESPONSE_STATUSES = Object.keys({
  completed: true,
  failed: true,
  in_progress: true,
  cancelled: true,
  queued: true,
  incomplete: true,
} satisfies Record<ResponseStatus, true>);

export class ResponseInputTokensDetailsDto implements Partial<ResponseUsage.InputTokensDetails> {
  @ApiProperty({ description: 'Input tokens read from the cache: priced at the model’s cached-input price.' })
  cached_tokens: number;
}

export class ResponseOutputTokensDetailsDto implements ResponseUsage.OutputTokensDetails {
  @ApiProperty({ description: 'Part of output_tokens, never counted twice.' })
  reasoning_tokens: number;
}

export class ResponseUsageDto implements Omit<ResponseUsage, 'input_tokens_details'> {
  @ApiProperty()
  input_tokens: number;

  @ApiProperty({ type: ResponseInputTokensDetailsDto })
  input_tokens_details: ResponseInputTokensDetailsDto;

  @ApiProperty()
  output_tokens: number;

  @ApiProperty({ type: ResponseOutputTokensDetailsDto })
  output_tokens_details: ResponseOutputTokensDetailsDto;

  @ApiProperty()
  total_tokens: number;
}

type DocumentedResponse = Pick<Response, 'id' | 'object' | 'created_at' | 'model' | 'output' | 'error' | 'incomplete_details' | 'status'>;

export class ResponseDto implements DocumentedResponse {
  @ApiProperty({ example: 'resp_abc123' })
  id: string;

  @ApiProperty({ enum: ['response'] })
  object: 'response';

  @ApiProperty({ description: 'Unix seconds.' })
  created_at: number;

  @ApiPropertyOptional({
    enum: RESPONSE_STATUSES,
    description: 'A `failed` response is a 200 too: it is in the ledger and the metrics as `response_failed`.',
  })
  status?: ResponseStatus;

  @ApiProperty({ example: 'gpt-4o-mini' })
  model: string;

  @ApiProperty({ type: 'array', items: { type: 'object' }, description: 'The output items (messages, tool calls, reasoning), each with its `type`.' })
  output: Response['output'];

  @ApiPropertyOptional({ type: ResponseUsageDto, description: 'What the ledger settles the call with.' })
  usage?: ResponseUsageDto;

  @ApiProperty({ type: 'object', additionalProperties: true, nullable: true, description: 'Why the response failed: `{ code, message }`.' })
  error: Response['error'];

  @ApiProperty({ type: 'object', additionalProperties: true, nullable: true, description: 'Why the response is incomplete: `{ reason }`.' })
  incomplete_details: Response['incomplete_details'];
}

/** One event of a response's stream: its `type` also names the SSE event. */
export class ResponseStreamEventDto {
  @ApiProperty({ example: 'response.output_text.delta', description: 'e.g. `response.created`, `response.output_text.delta`, `response.completed`, `error`.' })
  type: string;

  @ApiProperty({ description: 'The event’s place in the stream, from 0.' })
  sequence_number: number;
}
