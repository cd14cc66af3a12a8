import { Body, Controller, Get, HttpCode, Post, Res, UseFilters } from '@nestjs/common';
import { AiService, ChatResult, FastifyReplyLike, OpenAiExceptionFilter, sendChatStream, UpstreamUnavailableError } from '@tollgate/ai';
import type { ServerResponse } from 'node:http';

export interface PromptBody {
  prompt: string;
}

export const MODEL = 'gpt-4o-mini';

/** Tenancy off: every call goes out without a call context. */
@Controller()
export class ChatController {
  constructor(private readonly ai: AiService) {}

  @Post('chat')
  @HttpCode(200)
  async chat(@Body() body: PromptBody): Promise<ChatResult['completion']> {
    const result = await this.ai.chat({ model: MODEL, messages: [{ role: 'user', content: body.prompt }] });
    return result.completion;
  }

  /** Express hands `@Res()` a ServerResponse, Fastify its reply: `sendChatStream` takes either. */
  @Post('stream')
  async stream(@Body() body: PromptBody, @Res() response: ServerResponse | FastifyReplyLike): Promise<void> {
    const chunks = await this.ai.chatStream({ model: MODEL, messages: [{ role: 'user', content: body.prompt }] });
    await sendChatStream(response, chunks);
  }

  @Get('boom')
  @UseFilters(OpenAiExceptionFilter)
  boom(): never {
    throw new UpstreamUnavailableError('circuit_open', { retryAfterMs: 7_000 });
  }
}
