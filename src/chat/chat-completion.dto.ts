import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionMessage, ChatCompletionMessageFunctionToolCall } from 'openai/resources/chat/completions';
import type { CompletionUsage } from 'openai/resources/completions';

// OpenAI's chat completion and its stream's chunks, as the gateway relays them from the upstream:
// documented only (the answer is the upstream's), each class checked against the SDK's type.

type FinishReason = ChatCompletion.Choice['finish_reason'];

// A record, so that a reason the SDK adds fails to compile until it is listed.
const FINISH_REASONS = Object.keys({ stop: true, length: true, tool_calls: true, content_filter: true, function_call: true } satisfies Record<FinishReason, true>);

const LOGPROBS = { type: 'object', additionalProperties: true, nullable: true, description: 'Log probabilities of the tokens, when `logprobs` was asked for: `{ content, refusal }`.' } as const;

export class PromptTokensDetailsDto implements CompletionUsage.PromptTokensDetails {
  @ApiPropertyOptional({ description: 'Tokens of the prompt read from the cache: priced at the model’s cached-input price.' })
  cached_tokens?: number;

  @ApiPropertyOptional()
  audio_tokens?: number;
}

export class CompletionTokensDetailsDto implements CompletionUsage.CompletionTokensDetails {
  @ApiPropertyOptional({ description: 'Tokens the model reasoned with: part of completion_tokens, never counted twice.' })
  reasoning_tokens?: number;

  @ApiPropertyOptional()
  audio_tokens?: number;

  @ApiPropertyOptional()
  accepted_prediction_tokens?: number;

  @ApiPropertyOptional()
  rejected_prediction_tokens?: number;
}

export class CompletionUsageDto implements CompletionUsage {
  @ApiProperty()
  prompt_tokens: number;

  @ApiProperty()
  completion_tokens: number;

  @ApiProperty()
  total_tokens: number;

  @ApiPropertyOptional({ type: PromptTokensDetailsDto })
  prompt_tokens_details?: PromptTokensDetailsDto;

  @ApiPropertyOptional({ type: CompletionTokensDetailsDto })
  completion_tokens_details?: CompletionTokensDetailsDto;
}

export class CalledFunctionDto implements ChatCompletionMessageFunctionToolCall.Function {
  @ApiProperty({ example: 'get_weather' })
  name: string;

  @ApiProperty({ description: 'The arguments, as a JSON string the model wrote (it may not be valid JSON).', example: '{"city":"Paris"}' })
  arguments: string;
}

export class CalledToolDto implements ChatCompletionMessageFunctionToolCall {
  @ApiProperty({ example: 'call_abc123' })
  id: string;

  @ApiProperty({ enum: ['function'] })
  type: 'function';

  @ApiProperty({ type: CalledFunctionDto })
  function: CalledFunctionDto;
}

export class AssistantReplyDto implements ChatCompletionMessage {
  @ApiProperty({ enum: ['assistant'] })
  role: 'assistant';

  @ApiProperty({ type: String, nullable: true })
  content: string | null;

  @ApiProperty({ type: String, nullable: true })
  refusal: string | null;

  @ApiPropertyOptional({ type: [CalledToolDto] })
  tool_calls?: CalledToolDto[];

  @ApiPropertyOptional({ type: 'object', additionalProperties: true, nullable: true, description: 'The audio answer, when audio was asked for: `{ id, data, expires_at, transcript }`.' })
  audio?: ChatCompletionMessage['audio'];

  @ApiPropertyOptional({ type: 'array', items: { type: 'object' }, description: 'URL citations of a web search.' })
  annotations?: ChatCompletionMessage['annotations'];
}

export class CompletionChoiceDto implements ChatCompletion.Choice {
  @ApiProperty()
  index: number;

  @ApiProperty({ type: AssistantReplyDto })
  message: AssistantReplyDto;

  @ApiProperty({ enum: FINISH_REASONS })
  finish_reason: FinishReason;

  @ApiProperty(LOGPROBS)
  logprobs: ChatCompletion.Choice['logprobs'];
}

export class ChatCompletionDto implements ChatCompletion {
  @ApiProperty({ example: 'chatcmpl-abc123' })
  id: string;

  @ApiProperty({ enum: ['chat.completion'] })
  object: 'chat.completion';

  @ApiProperty({ description: 'Unix seconds.' })
  created: number;

  @ApiProperty({ description: 'The model that answered: a fallback’s when one did (also in `x-tollgate-served-model`).', example: 'gpt-4o-mini' })
  model: string;

  @ApiProperty({ type: [CompletionChoiceDto] })
  choices: CompletionChoiceDto[];

  @ApiPropertyOptional({ type: CompletionUsageDto })
  usage?: CompletionUsageDto;

  @ApiPropertyOptional()
  system_fingerprint?: string;

  @ApiPropertyOptional({ type: String, nullable: true, example: 'default' })
  service_tier?: ChatCompletion['service_tier'];
}

// The stream

export class ToolCallFunctionDeltaDto implements ChatCompletionChunk.Choice.Delta.ToolCall.Function {
  @ApiPropertyOptional()
  name?: string;

  @ApiPropertyOptional({ description: 'The next piece of the arguments’ JSON string.' })
  arguments?: string;
}

export class ToolCallDeltaDto implements ChatCompletionChunk.Choice.Delta.ToolCall {
  @ApiProperty({ description: 'Which tool call of the choice this piece belongs to.' })
  index: number;

  @ApiPropertyOptional({ description: 'In the first piece of a tool call.' })
  id?: string;

  @ApiPropertyOptional({ enum: ['function'] })
  type?: 'function';

  @ApiPropertyOptional({ type: ToolCallFunctionDeltaDto })
  function?: ToolCallFunctionDeltaDto;
}

export class ChunkDeltaDto implements ChatCompletionChunk.Choice.Delta {
  @ApiPropertyOptional({ enum: ['assistant'], description: 'In the first chunk.' })
  role?: 'assistant';

  @ApiPropertyOptional({ type: String, nullable: true, description: 'The next piece of the answer.' })
  content?: string | null;

  @ApiPropertyOptional({ type: String, nullable: true })
  refusal?: string | null;

  @ApiPropertyOptional({ type: [ToolCallDeltaDto] })
  tool_calls?: ToolCallDeltaDto[];
}

export class ChunkChoiceDto implements ChatCompletionChunk.Choice {
  @ApiProperty()
  index: number;

  @ApiProperty({ type: ChunkDeltaDto })
  delta: ChunkDeltaDto;

  @ApiProperty({ enum: FINISH_REASONS, nullable: true, description: 'Set in the choice’s last chunk.' })
  finish_reason: ChatCompletionChunk.Choice['finish_reason'];

  @ApiPropertyOptional(LOGPROBS)
  logprobs?: ChatCompletionChunk.Choice['logprobs'];
}

export class ChatCompletionChunkDto implements ChatCompletionChunk {
  @ApiProperty({ description: 'The same in every chunk of a stream.', example: 'chatcmpl-abc123' })
  id: string;

  @ApiProperty({ enum: ['chat.completion.chunk'] })
  object: 'chat.completion.chunk';

  @ApiProperty({ description: 'Unix seconds.' })
  created: number;

  @ApiProperty({ example: 'gpt-4o-mini' })
  model: string;

  @ApiProperty({ type: [ChunkChoiceDto], description: 'Empty in the last chunk, which carries the usage when `stream_options.include_usage` was asked for.' })
  choices: ChunkChoiceDto[];

  @ApiPropertyOptional({ type: CompletionUsageDto, nullable: true })
  usage?: CompletionUsageDto | null;

  @ApiPropertyOptional()
  system_fingerprint?: string;

  @ApiPropertyOptional({ type: String, nullable: true, example: 'default' })
  service_tier?: ChatCompletionChunk['service_tier'];
}
