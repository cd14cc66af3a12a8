import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { AppModule } from './app.module';
import { upstreamFromEnv } from './app-environment';
import { listen } from './listen';

async function bootstrap(): Promise<void> {
  await listen(await NestFactory.create<NestFastifyApplication>(AppModule.register(upstreamFromEnv()), new FastifyAdapter()));
}

void bootstrap();
