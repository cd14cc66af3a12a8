import { Inject, Injectable, Optional } from '@nestjs/common';
import { Clock, InjectClock } from '../common/clock';

export type StatusIndicator = 'none' | 'minor' | 'major' | 'critical' | 'unknown';

/** What the upstream's status page says: `none` means all is well, `unknown` that no page could be read. */
export interface StatusPageReport {
  indicator: StatusIndicator;
  description: string;
  /** The components the page reports as not operational, with their status as the page names it. */
  affectedComponents: Array<{ name: string; status: string }>;
  /** Which page answered: incident.io's own summary, or the Statuspage-compatible `status.json`. */
  source?: 'incident.io' | 'statuspage';
  checkedAt: string;
}

export interface UpstreamStatusPageOptions {
  /**
   * incident.io's widget summary (`https://<page>/proxy/<page>`) or a Statuspage-compatible `status.json`.
   * @default 'https://status.openai.com/proxy/status.openai.com'
   */
  url?: string;
  /**
   * Asked when `url` cannot be read. @default for an incident.io summary, its page's Statuspage shim
   * (`/api/v2/status.json`), which still answers with the overall indicator; otherwise none
   */
  fallbackUrl?: string;
  /** How long one answer is reused. @default 60_000 */
  cacheMs?: number;
  /** How long each page may take to answer before it counts as unreadable. @default 5_000 */
  timeoutMs?: number;
}

/** Provide it to point `UpstreamStatusPage` at another page. */
export const UPSTREAM_STATUS_PAGE_OPTIONS = Symbol('UPSTREAM_STATUS_PAGE_OPTIONS');

export const OPENAI_STATUS_URL = 'https://status.openai.com/proxy/status.openai.com';

const DEFAULTS = { url: OPENAI_STATUS_URL, cacheMs: 60_000, timeoutMs: 5_000 };

/** incident.io's component impacts, from least to most severe, as Statuspage's indicators name them. */
const INDICATOR_OF_IMPACT: Record<string, StatusIndicator> = {
  under_maintenance: 'none',
  degraded_performance: 'minor',
  partial_outage: 'major',
  full_outage: 'critical',
};
const SEVERITY: StatusIndicator[] = ['none', 'minor', 'major', 'critical'];

type PageReading = Omit<StatusPageReport, 'checkedAt'>;

class UnreadablePage extends Error {}

/**
 * The upstream's status page, asked at most once per `cacheMs` (concurrent askers share one fetch) and never for
 * longer than `timeoutMs` a page. OpenAI's page is incident.io's: its summary names the affected components; the
 * Statuspage shim it also serves has the overall indicator only, and is read when the summary cannot be.
 */
@Injectable()
export class UpstreamStatusPage {
  private readonly options: Required<Omit<UpstreamStatusPageOptions, 'fallbackUrl'>> & { fallbackUrl?: string };
  private cached?: { report: StatusPageReport; at: number };
  private pending?: Promise<StatusPageReport>;

  constructor(
    @Optional() @Inject(UPSTREAM_STATUS_PAGE_OPTIONS) options: UpstreamStatusPageOptions | undefined,
    @InjectClock() private readonly clock: Clock,
  ) {
    const merged = { ...DEFAULTS, ...options };
    this.options = { ...merged, fallbackUrl: options?.fallbackUrl ?? statuspageShimOf(merged.url) };
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
    const failures: string[] = [];
    for (const url of [this.options.url, this.options.fallbackUrl]) {
      if (!url) continue;
      try {
        return { ...(await this.read(url)), checkedAt };
      } catch (error) {
        failures.push(error instanceof UnreadablePage ? error.message : `it could not be read (${(error as Error).message})`);
      }
    }
    return { indicator: 'unknown', description: `The status page gave no answer: ${failures.join('; ')}`, affectedComponents: [], checkedAt };
  }

  private async read(url: string): Promise<PageReading> {
    const response = await fetch(url, { signal: AbortSignal.timeout(this.options.timeoutMs), headers: { accept: 'application/json' } });
    if (!response.ok) throw new UnreadablePage(`${new URL(url).pathname} answered ${response.status}`);
    const body = (await response.json().catch(() => undefined)) as unknown;
    const reading = readIncidentIo(body) ?? readStatuspage(body);
    if (!reading) throw new UnreadablePage(`${new URL(url).pathname} answered in a shape Tollgate does not know`);
    return reading;
  }
}

/** `https://status.openai.com/proxy/status.openai.com` → `https://status.openai.com/api/v2/status.json`. */
function statuspageShimOf(url: string): string | undefined {
  const parsed = new URL(url);
  return parsed.pathname.startsWith('/proxy/') ? new URL('/api/v2/status.json', parsed.origin).toString() : undefined;
}

interface IncidentIoSummary {
  components?: Array<{ id?: string; name?: string }>;
  affected_components?: Array<{ component_id?: string; status?: string }>;
  ongoing_incidents?: Array<{ name?: string }>;
  in_progress_maintenances?: Array<{ name?: string }>;
}

/** incident.io's widget summary: `{ summary: { components, affected_components, ongoing_incidents, … } }`. */
function readIncidentIo(body: unknown): PageReading | undefined {
  const summary = (body as { summary?: IncidentIoSummary } | undefined)?.summary;
  if (!summary || typeof summary !== 'object' || !Array.isArray(summary.components)) return undefined;
  const names = new Map(summary.components.map((component) => [component.id, component.name ?? component.id ?? 'unnamed']));
  const affectedComponents = (summary.affected_components ?? []).map(({ component_id, status }) => ({
    name: names.get(component_id) ?? component_id ?? 'unnamed',
    status: status ?? 'unknown',
  }));
  const incidents = (summary.ongoing_incidents ?? []).map((incident) => incident.name ?? 'an unnamed incident');
  const maintenances = (summary.in_progress_maintenances ?? []).map((maintenance) => maintenance.name ?? 'an unnamed maintenance');
  const worst = affectedComponents.reduce<StatusIndicator>((sofar, { status }) => worse(sofar, INDICATOR_OF_IMPACT[status] ?? 'minor'), 'none');
  // An incident that names no component yet is still an incident.
  const indicator = incidents.length > 0 ? worse(worst, 'minor') : worst;
  const description = [
    incidents.length > 0 ? `Ongoing: ${incidents.join('; ')}` : undefined,
    maintenances.length > 0 ? `Maintenance: ${maintenances.join('; ')}` : undefined,
  ].filter(Boolean).join('. ') || 'All systems operational';
  return { indicator, description, affectedComponents, source: 'incident.io' };
}

/** A Statuspage `status.json`: `{ status: { indicator, description } }`. */
function readStatuspage(body: unknown): PageReading | undefined {
  const status = (body as { status?: { indicator?: unknown; description?: unknown } } | undefined)?.status;
  if (!status || typeof status.indicator !== 'string') return undefined;
  const indicator = SEVERITY.includes(status.indicator as StatusIndicator) ? (status.indicator as StatusIndicator) : 'unknown';
  const description = typeof status.description === 'string' ? status.description : 'no description';
  return { indicator, description, affectedComponents: [], source: 'statuspage' };
}

function worse(a: StatusIndicator, b: StatusIndicator): StatusIndicator {
  return SEVERITY.indexOf(a) >= SEVERITY.indexOf(b) ? a : b;
}
