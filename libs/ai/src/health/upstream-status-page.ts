import { Inject, Injectable, Optional } from '@nestjs/common';
import { Clock, InjectClock } from '../common/clock';

/** What the upstream's status page (a Statuspage-compatible `status.json`) says: `none` means all is well. */
export interface StatusPageReport {
  indicator: 'none' | 'minor' | 'major' | 'critical' | 'unknown';
  description: string;
  checkedAt: string;
}

export interface UpstreamStatusPageOptions {
  /** A Statuspage-compatible summary. @default 'https://status.openai.com/api/v2/status.json' */
  url?: string;
  /** How long one answer is reused. @default 60_000 */
  cacheMs?: number;
  /** How long the page may take to answer before it counts as unreadable. @default 5_000 */
  timeoutMs?: number;
}

/** Provide it to point `UpstreamStatusPage` at another page. */
export const UPSTREAM_STATUS_PAGE_OPTIONS = Symbol('UPSTREAM_STATUS_PAGE_OPTIONS');

const DEFAULTS: Required<UpstreamStatusPageOptions> = {
  url: 'https://status.openai.com/api/v2/status.json',
  cacheMs: 60_000,
  timeoutMs: 5_000,
};

/** The upstream's status page, asked at most once per `cacheMs` (concurrent askers share one fetch) and never for longer than `timeoutMs`. */
@Injectable()
export class UpstreamStatusPage {
  private readonly options: Required<UpstreamStatusPageOptions>;
  private cached?: { report: StatusPageReport; at: number };
  private pending?: Promise<StatusPageReport>;

  constructor(
    @Optional() @Inject(UPSTREAM_STATUS_PAGE_OPTIONS) options: UpstreamStatusPageOptions | undefined,
    @InjectClock() private readonly clock: Clock,
  ) {
    this.options = { ...DEFAULTS, ...options };
  }

  async current(): Promise<StatusPageReport> {
    if (this.cached && this.clock.now() - this.cached.at < this.options.cacheMs) return this.cached.report;
    this.pending ??= this.fetchReport().finally(() => (this.pending = undefined));
    const report = await this.pending;
    this.cached = { report, at: this.clock.now() };
    return report;
  }

  private async fetchReport(): Promise<StatusPageReport> {
    const checkedAt = new Date(this.clock.now()).toISOString();
    try {
      const response = await fetch(this.options.url, { signal: AbortSignal.timeout(this.options.timeoutMs) });
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
