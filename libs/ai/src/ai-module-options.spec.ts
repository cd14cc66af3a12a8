import { DEFAULT_PLAN, UNLIMITED } from './tenancy/tenant-limits';
import { DEFAULT_BASE_URL, resolveAiOptions } from './ai-module-options';
import { StaticSecretProvider } from './secrets/secret-provider';
import { DEFAULT_ALERT_RULES } from './telemetry/alert-rules';
import { DEFAULT_MODELS } from './context/default-models';

describe('resolveAiOptions', () => {
  it('should give a database its table prefix and evaluate the default alert rules', () => {
    const resolved = resolveAiOptions({ upstream: { apiKey: 'sk-test' }, database: { url: 'sqlite::memory:' } });

    expect(resolved.database).toEqual({ url: 'sqlite::memory:', migrate: true, tablePrefix: 'tollgate_' });
    expect(resolved.alerts.rules).toEqual(DEFAULT_ALERT_RULES);
  });

  it('should fill in every default', () => {
    expect(resolveAiOptions({ upstream: { apiKey: 'sk-test' } })).toEqual({
      upstreams: {
        upstreams: [{ name: 'openai', kind: 'openai', baseURL: DEFAULT_BASE_URL, keys: [{ name: 'key-1', weight: 1, secretProvider: expect.any(StaticSecretProvider) }] }],
        routes: {},
      },
      timeouts: { connectMs: 10_000, firstByteMs: 60_000, streamIdleMs: 30_000, totalMs: 120_000 },
      retry: { maxAttempts: 3, baseDelayMs: 500, maxDelayMs: 8_000, maxRetryAfterMs: 60_000 },
      retryBudget: { ratio: 0.1, minRetriesPerSecond: 0.5, windowMs: 10_000 },
      breaker: { errorThresholdPercentage: 50, volumeThreshold: 10, windowMs: 10_000, resetTimeoutMs: 30_000 },
      fallbackModels: {},
      alerts: { rules: [], evaluationIntervalMs: 15_000 },
      database: undefined,
      redis: undefined,
      plans: { default: DEFAULT_PLAN },
      models: DEFAULT_MODELS,
      tenancy: {
        autoProvision: true,
        keyCacheTtlMs: 5_000,
        reservationTtlMs: 300_000,
        sweepIntervalMs: 30_000,
        ledgerBatchSize: 200,
        ledgerFlushIntervalMs: 1_000,
        leaseIdleMs: 10_000,
      },
      ledgerRetention: { retentionDays: 35, rollupRetentionDays: null, settleMarginMs: 3_600_000, intervalMs: 3_600_000, pruneBatchSize: 5_000 },
      secrets: { ttlMs: 300_000, verifyOnStart: false, requireVerifiedKey: false },
      summaryModel: 'gpt-4o-mini',
      telemetry: { maxTenantLabels: 50 },
      jobs: {
        enabled: true,
        concurrency: 8,
        tenantConcurrency: 2,
        retentionMs: 86_400_000,
        pollIntervalMs: 1_000,
        leaseMs: 30_000,
        maxRuns: 10,
        maxUnfinishedPerTenant: 1_000,
        shutdownGraceMs: 10_000,
        webhookAllowedHosts: [],
        webhookAllowedPorts: [443],
        webhookAllowHttp: false,
        webhookAllowPrivateAddresses: false,
        webhookMaxAttempts: 5,
        webhookBaseDelayMs: 1_000,
        webhookMaxDelayMs: 60_000,
        webhookTimeoutMs: 10_000,
        queuePrefix: 'tollgate',
      },
    });
  });

  it('should complete every plan, a limit left out being none, and keep the default plan', () => {
    const resolved = resolveAiOptions({ upstream: { apiKey: 'sk-test' }, plans: { pro: { requestsPerDay: 10 } } });

    expect(resolved.plans.default).toEqual(DEFAULT_PLAN);
    expect(resolved.plans.pro).toEqual({ ...UNLIMITED, requestsPerDay: 10 });
  });

  it('should let a listed model replace its default entry whole, keep the other defaults and add a new one', () => {
    const mine = { inputPerMillionUsd: 5, outputPerMillionUsd: 20, contextWindow: 64_000 };
    const local = { inputPerMillionUsd: 0, outputPerMillionUsd: 0 };

    const { models } = resolveAiOptions({ upstream: { apiKey: 'sk-test' }, models: { 'gpt-4o': mine, local } });

    expect(models['gpt-4o']).toEqual(mine);
    expect(models['gpt-4o-mini']).toEqual(DEFAULT_MODELS['gpt-4o-mini']);
    expect(Object.keys(models)).toEqual([...Object.keys(DEFAULT_MODELS), 'local']);
  });

  it('should hold only the listed models with modelDefaults: false, and none with no models', () => {
    const local = { inputPerMillionUsd: 1, outputPerMillionUsd: 2 };

    expect(resolveAiOptions({ upstream: { apiKey: 'sk-test' }, modelDefaults: false, models: { local } }).models).toEqual({ local });
    expect(resolveAiOptions({ upstream: { apiKey: 'sk-test' }, modelDefaults: false }).models).toEqual({});
  });

  it('should know no model by a name of Object.prototype, defaults or not', () => {
    expect(resolveAiOptions({ upstream: { apiKey: 'sk-test' } }).models.constructor).toBeUndefined();
  });

  it('should keep the defaults of the fields an override leaves out', () => {
    const resolved = resolveAiOptions({ upstream: { apiKey: 'sk-test' }, retry: { maxAttempts: 5 }, timeouts: { totalMs: 30_000 } });

    expect(resolved.retry).toEqual({ maxAttempts: 5, baseDelayMs: 500, maxDelayMs: 8_000, maxRetryAfterMs: 60_000 });
    expect(resolved.timeouts).toEqual({ connectMs: 10_000, firstByteMs: 60_000, streamIdleMs: 30_000, totalMs: 30_000 });
  });

  it('should keep the default when an option is explicitly undefined', () => {
    const resolved = resolveAiOptions({
      upstream: { apiKey: 'sk-test', baseURL: undefined },
      retry: { maxAttempts: undefined },
      timeouts: { firstByteMs: undefined },
      retryBudget: { ratio: undefined },
      breaker: { volumeThreshold: undefined },
      fallbackModels: undefined,
    });

    expect(resolved.upstreams.upstreams[0].baseURL).toBe(DEFAULT_BASE_URL);
    expect(resolved.retry.maxAttempts).toBe(3);
    expect(resolved.timeouts.firstByteMs).toBe(60_000);
    expect(resolved.retryBudget.ratio).toBe(0.1);
    expect(resolved.breaker.volumeThreshold).toBe(10);
    expect(resolved.fallbackModels).toEqual({});
  });

  it('should keep an explicit 0', () => {
    expect(resolveAiOptions({ upstream: { apiKey: 'sk-test' }, retryBudget: { minRetriesPerSecond: 0 } }).retryBudget.minRetriesPerSecond).toBe(0);
  });

  it('should keep the given upstream and fallbacks', () => {
    const apiKey = 'sk-given';
    const resolved = resolveAiOptions({
      upstream: { apiKey, baseURL: 'http://simulator:4010/v1', organization: 'org-1' },
      fallbackModels: { 'gpt-4o': ['gpt-4o-mini'] },
    });

    expect(resolved.upstreams.upstreams).toEqual([
      {
        name: 'openai',
        kind: 'openai',
        baseURL: 'http://simulator:4010/v1',
        organization: 'org-1',
        keys: [{ name: 'key-1', weight: 1, secretProvider: expect.any(StaticSecretProvider) }],
      },
    ]);
    expect(resolved.upstreams.routes).toEqual({});
    expect(resolved.fallbackModels).toEqual({ 'gpt-4o': ['gpt-4o-mini'] });
  });

  it('should verify the keys at start-up whenever a verified key is required', () => {
    expect(resolveAiOptions({ upstream: { apiKey: 'sk-test' }, secrets: { requireVerifiedKey: true } }).secrets).toMatchObject({ verifyOnStart: true, requireVerifiedKey: true });
  });

  it("should put Redis's key prefix before BullMQ's keys too, unless the queue has its own", () => {
    const shared = resolveAiOptions({ upstream: { apiKey: 'sk-test' }, redis: { url: 'redis://r:6379', keyPrefix: 'acme:' } });
    const own = resolveAiOptions({ upstream: { apiKey: 'sk-test' }, redis: { url: 'redis://r:6379', keyPrefix: 'acme:' }, jobs: { queuePrefix: 'acme-jobs' } });

    expect(shared.redis).toEqual({ url: 'redis://r:6379', keyPrefix: 'acme:' });
    expect(shared.jobs.queuePrefix).toBe('acme');
    expect(own.jobs.queuePrefix).toBe('acme-jobs');
    expect(resolveAiOptions({ upstream: { apiKey: 'sk-test' }, redis: { url: 'redis://r:6379' } }).redis?.keyPrefix).toBe('tollgate:');
  });
});

describe('resolveAiOptions alerts', () => {
  it.each([
    ['two rules of one name', [{ name: 'A', kind: 'breaker_open', severity: 'critical' }, { name: 'A', kind: 'breaker_open', severity: 'warning' }], "alert rule 'A' is defined twice"],
    ['an unknown kind', [{ name: 'A', kind: 'gut_feeling', severity: 'warning' }], "alert rule 'A': kind must be"],
    ['a ratio above 1', [{ name: 'A', kind: 'error_rate', severity: 'warning', outcomes: '.', aboveRatio: 5, windowMs: 1000, minCalls: 1 }], "alert rule 'A': aboveRatio must be a number from 0 to 1"],
    ['an unknown severity', [{ name: 'A', kind: 'breaker_open', severity: 'loud' }], "alert rule 'A': severity must be warning or critical"],
    ['a quota rule at 0', [{ name: 'A', kind: 'quota_used', severity: 'warning', atLeastRatio: 0 }], "alert rule 'A': atLeastRatio"],
  ])('should refuse %s, naming the rule', (_case, rules, message) => {
    expect(() => resolveAiOptions({ upstream: { apiKey: 'sk-test' }, alerts: { rules: rules as never } })).toThrow(message);
  });
});
