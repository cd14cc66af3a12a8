import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { RedisConnection } from './limits/redis-connection';
import { Database } from './persistence/database';
import { JobRunner } from './jobs/job-runner';
import { Governance } from './tenancy/governance';
import { BreakerRegistry } from './upstream/breaker-registry';
import { InjectUpstreamClient, UpstreamClient } from './upstream/upstream-client';

/**
 * The module's shutdown, in one ordered sequence: Nest runs the shutdown hooks of one module's
 * providers concurrently, and the order matters here. It runs after the application has stopped
 * serving (an HTTP server closes before `onApplicationShutdown`), so no call is cut short:
 * settlements and the ledger first, then what they used, the database last.
 */
@Injectable()
export class AiLifecycle implements OnApplicationShutdown {
  private readonly logger = new Logger(AiLifecycle.name);

  constructor(
    private readonly governance: Governance,
    private readonly redis: RedisConnection,
    private readonly breakers: BreakerRegistry,
    @InjectUpstreamClient() private readonly client: UpstreamClient,
    private readonly database: Database,
    private readonly jobs: JobRunner,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    // Running jobs finish (or go back to the queue) first: they settle and write the ledger like any call.
    await this.step('jobs', () => this.jobs.shutdown());
    await this.step('settlements and ledger', () => this.governance.drain());
    await this.step('redis', () => this.redis.close());
    await this.step('upstream connections', async () => {
      this.breakers.shutdown();
      await this.client.close?.();
    });
    await this.step('database', () => this.database.close());
  }

  /** A failing step is logged and the next one still runs: shutdown must always finish. */
  private async step(name: string, work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (error) {
      this.logger.error(`shutdown: ${name} failed: ${(error as Error).message}`);
    }
  }
}
