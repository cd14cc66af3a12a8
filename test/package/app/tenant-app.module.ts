import { DynamicModule, Module } from '@nestjs/common';
import { AiModule, UpstreamOptions } from '@tollgate/ai';
import { ChatController } from './chat.controller';
import { TenantChatController } from './tenant-chat.controller';

/** With a `database`: tenants, quotas and the usage ledger live in the app's own PostgreSQL database. */
@Module({})
export class TenantAppModule {
  static register(upstream: UpstreamOptions, databaseUrl: string): DynamicModule {
    return {
      module: TenantAppModule,
      imports: [AiModule.forRoot({ upstream, database: { url: databaseUrl } })],
      // The same calls as without a database (for the `default` tenant, made on its first call), and a tenant's own.
      controllers: [ChatController, TenantChatController],
    };
  }
}
