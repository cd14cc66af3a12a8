import { DynamicModule, Module } from '@nestjs/common';
import { AiModule, UpstreamOptions } from '@tollgate/ai';
import { ChatController } from './chat.controller';

/** No `database`: the library runs with tenancy off, without TypeORM, tables or pollers. */
@Module({})
export class AppModule {
  static register(upstream: UpstreamOptions): DynamicModule {
    return { module: AppModule, imports: [AiModule.forRoot({ upstream })], controllers: [ChatController] };
  }
}
