import { BeforeApplicationShutdown, Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';
import { GATEWAY_CONFIG, GatewayConfig } from '../config/gateway-config';

/**
 * The first step of a graceful shutdown. On SIGTERM (or SIGINT), readiness fails at once while the
 * gateway keeps serving for SHUTDOWN_READINESS_DELAY_MS, so that load balancers stop sending it
 * requests; only then does the server close (finishing the requests in flight) and the ledger drain.
 * The library's timers (ledger flush, reservation sweeper, key refresh, jobs) run on through the wait:
 * they stop at application shutdown, not at module destroy. A programmatic `app.close()` (no signal)
 * does not wait, nor does a start outside production unless the variable is set: there no load
 * balancer waits, and Ctrl-C should close at once.
 */
@Injectable()
export class ShutdownGate implements BeforeApplicationShutdown {
  private readonly logger = new Logger(ShutdownGate.name);
  private closing = false;
  private readonly delayMs: number;

  constructor(
    config: ConfigService,
    private readonly health: HealthIndicatorService,
  ) {
    this.delayMs = config.getOrThrow<GatewayConfig>(GATEWAY_CONFIG).shutdownReadinessDelayMs;
  }

  get acceptingTraffic(): boolean {
    return !this.closing;
  }

  /** The readiness check: down from the first shutdown step on. */
  check(): HealthIndicatorResult {
    const check = this.health.check('shutdown');
    return this.acceptingTraffic ? check.up() : check.down({ message: 'shutting down' });
  }

  async beforeApplicationShutdown(signal?: string): Promise<void> {
    this.closing = true;
    if (!signal || this.delayMs === 0) return;
    this.logger.log(`${signal}: not ready any more; serving for ${this.delayMs} ms more while load balancers notice, then closing`);
    // The global timer, not node:timers/promises: jest's fake timers run only the global one.
    await new Promise((resolve) => setTimeout(resolve, this.delayMs));
  }
}
