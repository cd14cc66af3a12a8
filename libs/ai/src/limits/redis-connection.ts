import { Inject, Injectable } from '@nestjs/common';
import type Redis from 'ioredis';
import { RedisOptions } from '../ai-module-options';
import { REDIS_OPTIONS } from '../ai-option-slices';
import { requireOptional } from '../common/optional-package';
import { DependencyStatus, failureOf } from '../health/dependency-status';
import { LimitStore } from './limit-store';
import { RedisLimitStore } from './redis-limit-store';

/** ioredis is an optional peer dependency, loaded when the module is given Redis. */
function loadIoredis(): typeof Redis {
  const ioredis = requireOptional<typeof Redis & { default?: typeof Redis }>('ioredis', 'limits shared across replicas (the `redis` option)');
  return ioredis.default ?? ioredis;
}

/** The library's Redis connection, when one is configured; limits are in-process otherwise. */
@Injectable()
export class RedisConnection {
  private readonly client?: Redis;
  /** Whether the module was given Redis. */
  readonly configured: boolean;
  /** Whether Redis is connected and answering; while it is not, limits fall back to this process. */
  readonly status = new DependencyStatus('redis', 'limits are counted in this process alone, and jobs wait for dispatch, until it answers again');
  private closing = false;
  private readonly keyPrefix?: string;

  constructor(@Inject(REDIS_OPTIONS) redis: RedisOptions | undefined) {
    this.keyPrefix = redis?.keyPrefix;
    // A limiter must answer now or fall back, not queue behind a lost connection. The commands of
    // one tick (concurrent calls' limits) go out in one write.
    this.configured = redis !== undefined;
    this.client = redis && new (loadIoredis())(redis.url, { enableOfflineQueue: false, maxRetriesPerRequest: 1, lazyConnect: false, enableAutoPipelining: true });
    this.client?.on('ready', () => this.status.reachable());
    // ioredis reconnects by itself; every failed attempt repeats the error, the status logs the first.
    this.client?.on('error', (error) => this.status.unreachable(failureOf(error)));
    this.client?.on('close', () => {
      if (!this.closing) this.status.unreachable('connection closed');
    });
  }

  /** The limits counted in Redis, for every replica alike; undefined without Redis. */
  limitStore(): LimitStore | undefined {
    return this.client && new RedisLimitStore(this.client, this.keyPrefix);
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

  /** One round trip, for readiness: its outcome is the status until the next one. */
  async ping(): Promise<void> {
    try {
      await this.client?.ping();
      this.status.reachable();
    } catch (error) {
      this.status.unreachable(failureOf(error));
      throw error;
    }
  }

  /** Called by AiLifecycle, in order, once nothing needs Redis any more. */
  async close(): Promise<void> {
    this.closing = true;
    await this.client?.quit().catch(() => this.client?.disconnect());
  }
}
