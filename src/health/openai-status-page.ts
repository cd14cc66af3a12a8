import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { Clock, InjectClock } from '@tollgate/ai';
import { GATEWAY_CONFIG, GatewayConfig } from '../config/gateway-config';

/** What OpenAI's status page (a Statuspage-compatible `status.json`) says: `none` means all is well. */
export interface StatusPageReport {
  indicator: 'none' | 'minor' | 'major' | 'critical' | 'unknown';
  description: string;
  checkedAt: string;
}

const CACHE_MS = 60_000;
const TIMEOUT_MS = 5_000;

/** OpenAI's status page, asked at most once a minute and never for longer than five seconds. */
@Injectable()
export class OpenAiStatusPage {
  private cached?: { report: StatusPageReport; at: number };
  private pending?: Promise<StatusPageReport>;

  constructor(
    private readonly config: ConfigService,
    @InjectClock() private readonly clock: Clock,
  ) {}

  async current(): Promise<StatusPageReport> {
    if (this.cached && this.clock.now() - this.cached.at < CACHE_MS) return this.cached.report;
    this.pending ??= this.fetchReport().finally(() => (this.pending = undefined));
    const report = await this.pending;
    this.cached = { report, at: this.clock.now() };
    return report;
  }

  private async fetchReport(): Promise<StatusPageReport> {
    const checkedAt = new Date(this.clock.now()).toISOString();
    const { statusUrl } = this.config.getOrThrow<GatewayConfig>(GATEWAY_CONFIG);
    try {
      const response = await fetch(statusUrl, { signal: AbortSignal.timeout(TIMEOUT_MS) });
      if (!response.ok) return { indicator: 'unknown', description: `The status page answered ${response.status}`, checkedAt };
      const body = (await response.json()) as { status?: { indicator?: string; description?: string } };
      const indicator = body.status?.indicator;
      const known = indicator === 'none' || indicator === 'minor' || indicator === 'major' || indicator === 'critical';
      return { indicator: known ? indicator : 'unknown', description: body.status?.description ?? 'no description', checkedAt };
    } catch (error) {
      return { indicator: 'unknown', description: `The status page could not be read: ${(error as Error).message}`, checkedAt };
    }
  }
}
