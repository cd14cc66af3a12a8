import { IsOptional, IsString, MaxLength } from 'class-validator';
import { ChatCompletionRequestDto } from '../chat/chat-completion-request.dto';

/** OpenAI's chat completion request, to be run as a job, and where to say when it is done. */
export class AsyncChatCompletionRequestDto extends ChatCompletionRequestDto {
  /** Called with the finished job, signed (`x-tollgate-signature`); its host and port must be on the operator's allow-list, checked again at delivery. */
  @IsOptional()
  @IsString({ message: 'expected an http(s) URL of up to 2048 characters' })
  @MaxLength(2048, { message: 'expected an http(s) URL of up to 2048 characters' })
  webhook_url?: string;
}
