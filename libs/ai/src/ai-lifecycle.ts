import { Inject, Injectable, Logger, OnApplicationShutdown, Optional } from '@nestjs/common';
import { Admissions } from './chat/admissions';
import { InjectJobsShutdown, JobsShutdown } from './jobs/job-types';
import { RedisConnection } from './limits/redis-connection';
import { Database } from './persistence/database';
import type { DatabaseProbe } from './persistence/database-probe';
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
    private readonly admissions: Admissions,
    private readonly redis: RedisConnection,
    private readonly breakers: BreakerRegistry,
    @InjectUpstreamClient() private readonly client: UpstreamClient,
    /** Absent, with the jobs, without a database. */
    @Optional() @Inject(Database) private readonly database: DatabaseProbe | undefined,
    @Optional() @InjectJobsShutdown() private readonly jobs: JobsShutdown | undefined,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    // Running jobs finish (or go back to the queue) first: they settle and write the ledger like any call.
    const { jobs, database } = this;
    if (jobs) await this.step('jobs', () => jobs.shutdown());
    await this.step('settlements and ledger', () => this.admissions.drain());
    await this.step('redis', () => this.redis.close());
    await this.step('upstream connections', async () => {
      this.breakers.shutdown();
      await this.client.close?.();
    });
    if (database) await this.step('database', () => database.close());
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
