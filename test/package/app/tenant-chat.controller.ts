import { Body, Controller, HttpCode, Param, Post } from '@nestjs/common';
import { AiService, ChatResult } from '@tollgate/ai';
import { TenantService, TenantView } from '@tollgate/ai/tenancy';
import { MODEL, PromptBody } from './chat.controller';

export interface NewTenantBody {
  id: string;
}

/** Tenancy on: tenants are created through the library, and each call names its tenant. */
@Controller('tenants')
export class TenantChatController {
  constructor(
    private readonly ai: AiService,
    private readonly tenants: TenantService,
  ) {}

  @Post()
  createTenant(@Body() body: NewTenantBody): Promise<TenantView> {
    return this.tenants.create({ id: body.id, name: body.id });
  }

  @Post(':tenantId/chat')
  @HttpCode(200)
  async chat(@Param('tenantId') tenantId: string, @Body() body: PromptBody): Promise<ChatResult['completion']> {
    const result = await this.ai.chat({ model: MODEL, messages: [{ role: 'user', content: body.prompt }] }, { tenantId });
    return result.completion;
  }
}
