/**
 * The admin REST API (/admin/*, same origin) as the console calls it, with the admin token as a bearer.
 * The types are the JSON the API answers with (its OpenAPI document at /docs-json), reduced to what the
 * console reads: this is a client of the wire format, like any operator's script, not of the gateway's code.
 */

export type TenantStatus = 'active' | 'disabled';

/** The limits the console edits; a tenant has others (models, fallbacks, context policy), kept as they are. */
export const COUNT_LIMITS = [
  ['requestsPerMinute', 'Requests per minute'],
  ['tokensPerMinute', 'Tokens per minute'],
  ['requestsPerDay', 'Requests per UTC day'],
  ['tokensPerMonth', 'Tokens per UTC month'],
  ['costPerMonthUsd', 'Spend per UTC month (USD)'],
  ['concurrentRequests', 'Requests in flight'],
  ['maxPromptTokens', 'Largest prompt (tokens)'],
] as const;

export type CountLimit = (typeof COUNT_LIMITS)[number][0];

/** null: no limit. */
export type Limits = Record<CountLimit, number | null> & Record<string, unknown>;

export interface Tenant {
  id: string;
  name: string;
  plan: string;
  status: TenantStatus;
  limits: Limits;
  /** What PUT /admin/tenants/:id/quota changed from the plan; a field left out is the plan's value. */
  overrides: Partial<Limits>;
  createdAt: string;
}

export interface ApiKey {
  id: string;
  prefix: string;
  name: string | null;
  createdAt: string;
  revokedAt: string | null;
}

export interface IssuedApiKey extends ApiKey {
  /** Shown this once: the gateway keeps only its hash. */
  key: string;
}

export interface QuotaWindow {
  limit: number | null;
  used: number;
  remaining: number | null;
  resetsAt: string;
}

export interface Quota {
  plan: string;
  requestsPerDay: QuotaWindow;
  tokensPerMonth: QuotaWindow;
  costPerMonthUsd: QuotaWindow;
}

export type UsageGrouping = 'day' | 'model';

export interface UsageGroup {
  /** The UTC day or the model. */
  key: string;
  requests: number;
  promptTokens: number;
  completionTokens: number;
  costUsd: number;
  failures: number;
}

export interface UsageReport {
  from: string;
  to: string;
  groupBy: UsageGrouping;
  data: UsageGroup[];
}

export interface Breaker {
  upstream: string;
  model: string;
  state: 'closed' | 'open' | 'half_open';
  halfOpenAt?: number;
  recentCalls: number;
  recentFailures: number;
}

export interface UpstreamKey {
  upstream: string;
  key: string;
  weight: number;
  state: 'ready' | 'resting' | 'out';
  inFlight: number;
  restingUntil?: string;
  out?: { reason: string; since: string; probeAt?: string; detail?: string };
  provider: string;
  /** The first 12 hex digits of the key's SHA-256: never the key. */
  fingerprint: string;
  version: string;
  verified: 'accepted' | 'refused' | 'unverified';
  storeError?: { failure: string; message: string; at: string };
}

export interface UpstreamStatus {
  breakers: Breaker[];
  keys: UpstreamKey[];
}

export interface Alert {
  name: string;
  severity: 'warning' | 'critical';
  state: 'pending' | 'firing';
  labels: Record<string, string>;
  value: number;
  summary: string;
  activeSince: string;
  firingSince?: string;
}

interface List<T> {
  data: T[];
}

/** An answer other than 2xx, with the message of the gateway's OpenAI-shaped error. */
export class AdminApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'AdminApiError';
  }
}

export class AdminApi {
  /**
   * `onRefused`: called when the gateway refuses the token (401), e.g. after a restart with another
   * generated token, so that the console asks to sign in again.
   */
  constructor(
    private readonly token: string,
    private readonly onRefused: (message: string) => void = () => undefined,
  ) {}

  async listTenants(): Promise<Tenant[]> {
    return (await this.request<List<Tenant>>('GET', '/admin/tenants')).data;
  }

  createTenant(body: { id?: string; name: string; plan?: string }): Promise<Tenant> {
    return this.request('POST', '/admin/tenants', body);
  }

  updateTenant(id: string, body: { plan?: string; status?: TenantStatus }): Promise<Tenant> {
    return this.request('PATCH', tenantPath(id), body);
  }

  /** Keeps the tenant, its keys and its ledger; updateTenant with `status: 'active'` brings it back. */
  disableTenant(id: string): Promise<Tenant> {
    return this.request('DELETE', tenantPath(id));
  }

  /** Replaces every override: a field left out is the plan's value, null is no limit. */
  setLimits(id: string, overrides: Partial<Limits>): Promise<Quota> {
    return this.request('PUT', `${tenantPath(id)}/quota`, overrides);
  }

  async listKeys(tenantId: string): Promise<ApiKey[]> {
    return (await this.request<List<ApiKey>>('GET', `${tenantPath(tenantId)}/keys`)).data;
  }

  issueKey(tenantId: string, name: string | null): Promise<IssuedApiKey> {
    return this.request('POST', `${tenantPath(tenantId)}/keys`, { name });
  }

  revokeKey(tenantId: string, keyId: string): Promise<void> {
    return this.request('DELETE', `${tenantPath(tenantId)}/keys/${encodeURIComponent(keyId)}`);
  }

  quota(tenantId: string): Promise<Quota> {
    return this.request('GET', `${tenantPath(tenantId)}/quota`);
  }

  /** This UTC month so far, the API's default period. */
  usage(tenantId: string, groupBy: UsageGrouping): Promise<UsageReport> {
    return this.request('GET', `${tenantPath(tenantId)}/usage?groupBy=${groupBy}`);
  }

  upstream(): Promise<UpstreamStatus> {
    return this.request('GET', '/admin/upstream');
  }

  async alerts(): Promise<Alert[]> {
    return (await this.request<List<Alert>>('GET', '/admin/alerts')).data;
  }

  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'omit', cache: 'no-store' });
    } catch {
      throw new AdminApiError(0, 'The gateway did not answer: is it running?');
    }
    const text = await response.text();
    if (response.ok) return (text ? JSON.parse(text) : undefined) as T;
    const error = new AdminApiError(response.status, errorMessage(response.status, text));
    if (response.status === 401) this.onRefused(error.message);
    throw error;
  }
}

function tenantPath(id: string): string {
  return `/admin/tenants/${encodeURIComponent(id)}`;
}

function errorMessage(status: number, text: string): string {
  try {
    const message = (JSON.parse(text) as { error?: { message?: unknown } }).error?.message;
    if (typeof message === 'string') return message;
  } catch {
    // Not the gateway's JSON (a proxy's error page): say what is known.
  }
  return `The gateway answered ${status}.`;
}
