/** What happens to a prompt that does not fit the model's context window (or the plan's maximum prompt). */
export type ContextPolicy = 'reject' | 'trim' | 'summarize' | 'upgrade';

export const CONTEXT_POLICIES: readonly ContextPolicy[] = ['reject', 'trim', 'summarize', 'upgrade'];

/** Every limit a tenant has; `null` means none. */
export interface TenantLimits {
  requestsPerMinute: number | null;
  tokensPerMinute: number | null;
  requestsPerDay: number | null;
  tokensPerMonth: number | null;
  costPerMonthUsd: number | null;
  concurrentRequests: number | null;
  /** The models the tenant may call; null: any. */
  allowedModels: string[] | null;
  /** The tenant's own fallback chains; null: the module's. */
  fallbackModels: Record<string, string[]> | null;
  /** Whether models missing from the module's model table may be called (passed through as they are). */
  allowUnknownModels: boolean;
  /** What to do with a prompt that does not fit; a request may choose another with a header. */
  contextPolicy: ContextPolicy;
  /** The largest prompt the plan allows, in tokens, whatever the model's window. */
  maxPromptTokens: number | null;
  /**
   * The completion limit sent upstream for a request that names none (`max_completion_tokens`, at most the
   * model's largest completion and the room its window leaves), and shown in `x-tollgate-completion-allowance`.
   * @default undefined: such a request goes upstream as sent, and reserves the model's largest completion
   */
  defaultCompletionTokens?: number | null;
}

/** Changes to a plan for one tenant: an absent key keeps the plan's value, `null` removes the limit. */
export type LimitOverrides = Partial<TenantLimits>;

export const UNLIMITED: TenantLimits = {
  requestsPerMinute: null,
  tokensPerMinute: null,
  requestsPerDay: null,
  tokensPerMonth: null,
  costPerMonthUsd: null,
  concurrentRequests: null,
  allowedModels: null,
  fallbackModels: null,
  allowUnknownModels: true,
  contextPolicy: 'reject',
  maxPromptTokens: null,
};

/** The plan the module falls back to when no plans are configured: generous, but bounded. */
export const DEFAULT_PLAN: TenantLimits = {
  ...UNLIMITED,
  requestsPerMinute: 600,
  tokensPerMinute: 1_000_000,
  requestsPerDay: 100_000,
  tokensPerMonth: 100_000_000,
  costPerMonthUsd: 1_000,
  concurrentRequests: 50,
  allowUnknownModels: false,
};

export function effectiveLimits(plan: TenantLimits, overrides: LimitOverrides): TenantLimits {
  return { ...plan, ...overrides };
}

/** Tenant ids appear in URLs, keys of every store and log lines: a short, plain token. */
export const TENANT_ID_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/** A tenant that may make calls, with its limits, as the call path sees it. */
export interface ActiveTenant {
  id: string;
  limits: TenantLimits;
  /** Its prompts and completions may be logged: an operator turned it on for this tenant. */
  logContent: boolean;
}
