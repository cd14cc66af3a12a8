import { Inject, Injectable } from '@nestjs/common';
import Redis from 'ioredis';
import { ResolvedAiOptions } from '../ai-module-options';
import { RESOLVED_AI_OPTIONS } from '../ai.module-definition';

/** The library's Redis connection, when one is configured; limits are in-process otherwise. */
@Injectable()
export class RedisConnection {
  readonly client?: Redis;

  constructor(@Inject(RESOLVED_AI_OPTIONS) options: ResolvedAiOptions) {
    // A limiter must answer now or fall back, not queue behind a lost connection.
    this.client = options.redis && new Redis(options.redis.url, { enableOfflineQueue: false, maxRetriesPerRequest: 1, lazyConnect: false });
  }

  /** Resolves once connected (start-up waits for it, so that the first requests do not fall back). */
  async ready(): Promise<void> {
    const client = this.client;
    if (!client || client.status === 'ready') return;
    await new Promise<void>((resolve, reject) => {
      client.once('ready', resolve);
      client.once('error', reject);
    });
  }

  /** Called by AiLifecycle, in order, once nothing needs Redis any more. */
  async close(): Promise<void> {
    await this.client?.quit().catch(() => this.client?.disconnect());
  }
}
