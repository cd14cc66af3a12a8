import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { databaseUrlFromEnv, upstreamFromEnv } from './app-environment';
import { listen } from './listen';
import { TenantAppModule } from './tenant-app.module';

async function bootstrap(): Promise<void> {
  const module = TenantAppModule.register(upstreamFromEnv(), databaseUrlFromEnv());
  await listen(await NestFactory.create<NestFastifyApplication>(module, new FastifyAdapter()));
}

void bootstrap();
