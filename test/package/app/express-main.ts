import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module';
import { upstreamFromEnv } from './app-environment';
import { listen } from './listen';

// Nest's default platform is Express: no import of @nestjs/platform-express, so no need for @types/express.
async function bootstrap(): Promise<void> {
  await listen(await NestFactory.create(AppModule.register(upstreamFromEnv())));
}

void bootstrap();
