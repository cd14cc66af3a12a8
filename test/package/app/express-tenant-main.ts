import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { databaseUrlFromEnv, upstreamFromEnv } from './app-environment';
import { listen } from './listen';
import { TenantAppModule } from './tenant-app.module';

async function bootstrap(): Promise<void> {
  await listen(await NestFactory.create(TenantAppModule.register(upstreamFromEnv(), databaseUrlFromEnv())));
}

void bootstrap();
