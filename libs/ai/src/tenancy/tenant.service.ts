import { Inject, Injectable } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { ModelInfo, TenancyOptions } from '../ai-module-options';
import { MODELS, TENANCY_OPTIONS } from '../ai-option-slices';
import { Clock, InjectClock } from '../common/clock';
import { InvalidLimitsError, InvalidTenantIdError, TenantDisabledError, TenantExistsError, TenantNotFoundError } from '../errors/ai-errors';
import { Database } from '../persistence/database';
import { ApiKeyService } from './api-key.service';
import { PlanCatalog } from './plan-catalog';
import { TenantEntity, TenantStatus } from './tenant.entity';
import { ActiveTenant, CONTEXT_POLICIES, effectiveLimits, LimitOverrides, TENANT_ID_PATTERN, TenantLimits } from './tenant-limits';
import { TtlCache } from './ttl-cache';

export interface TenantView {
  id: string;
  name: string;
  plan: string;
  status: TenantStatus;
  /** The plan's limits with the tenant's overrides applied. */
  limits: TenantLimits;
  overrides: LimitOverrides;
  /** Whether its prompts and completions are written to the request log. */
  logContent: boolean;
  createdAt: string;
  updatedAt: string;
}

export interface CreateTenantInput {
  /** @default a generated `tn_…` id */
  id?: string;
  name: string;
  /** @default 'default' */
  plan?: string;
}

export interface UpdateTenantInput {
  name?: string;
  plan?: string;
  status?: TenantStatus;
  logContent?: boolean;
}

const COUNT_LIMITS = ['requestsPerMinute', 'tokensPerMinute', 'requestsPerDay', 'tokensPerMonth', 'concurrentRequests', 'maxPromptTokens'] as const;

@Injectable()
export class TenantService {
  private readonly active: TtlCache<ActiveTenant>;

  constructor(
    private readonly db: Database,
    private readonly plans: PlanCatalog,
    private readonly keys: ApiKeyService,
    @InjectClock() private readonly clock: Clock,
    @Inject(TENANCY_OPTIONS) private readonly tenancy: TenancyOptions,
    @Inject(MODELS) private readonly models: Record<string, ModelInfo>,
  ) {
    this.active = new TtlCache(clock, tenancy.keyCacheTtlMs);
  }

  async create(input: CreateTenantInput): Promise<TenantView> {
    const id = input.id ?? `tn_${randomBytes(8).toString('hex')}`;
    assertTenantId(id);
    const plan = input.plan ?? 'default';
    this.plans.limitsOf(plan);
    const now = this.clock.now();
    const tenant = await this.db.transaction(async (manager) => {
      if (await manager.existsBy(TenantEntity, { id })) throw new TenantExistsError(id);
      const entity = manager.create(TenantEntity, { id, name: input.name, plan, status: 'active', limitOverrides: {}, logContent: false, createdAt: now, updatedAt: now });
      return manager.save(entity);
    });
    return this.view(tenant);
  }

  async list(): Promise<TenantView[]> {
    const tenants = await this.db.manager.find(TenantEntity, { order: { createdAt: 'ASC' } });
    return tenants.map((tenant) => this.view(tenant));
  }

  async get(id: string): Promise<TenantView> {
    return this.view(await this.find(id));
  }

  async update(id: string, changes: UpdateTenantInput): Promise<TenantView> {
    if (changes.plan !== undefined) this.plans.limitsOf(changes.plan);
    const updated = await this.modify(id, (tenant) => Object.assign(tenant, definedOnly(changes)));
    if (changes.status !== undefined) this.keys.forgetTenant(id);
    return updated;
  }

  /** Disables the tenant: its keys stop working, its ledger is kept. */
  async disable(id: string): Promise<TenantView> {
    return this.update(id, { status: 'disabled' });
  }

  /** Replaces the tenant's limit overrides: an absent field is the plan's value, `null` removes the limit. */
  async setLimits(id: string, overrides: LimitOverrides): Promise<TenantView> {
    assertValidOverrides(overrides, Object.keys(this.models));
    return this.modify(id, (tenant) => {
      tenant.limitOverrides = definedOnly(overrides);
    });
  }

  /** The tenant for a call: cached briefly, created on first use when auto-provisioning is on. */
  resolveActive(id: string): Promise<ActiveTenant> {
    return this.active.getOrLoad(id, () => this.findActive(id));
  }

  /** A disabled tenant is an error, so it is not cached: enabling it works at once. */
  private async findActive(id: string): Promise<ActiveTenant> {
    const tenant = (await this.db.manager.findOneBy(TenantEntity, { id })) ?? (await this.provision(id));
    if (tenant.status !== 'active') throw new TenantDisabledError(id);
    return { id, limits: this.limitsOf(tenant), logContent: tenant.logContent };
  }

  private async provision(id: string): Promise<TenantEntity> {
    if (!this.tenancy.autoProvision) throw new TenantNotFoundError(id);
    try {
      await this.create({ id, name: id });
    } catch (error) {
      if (!(error instanceof TenantExistsError)) throw error; // another call provisioned it first
    }
    return this.find(id);
  }

  private async modify(id: string, change: (tenant: TenantEntity) => void): Promise<TenantView> {
    const tenant = await this.db.transaction(async (manager) => {
      const found = await manager.findOneBy(TenantEntity, { id });
      if (!found) throw new TenantNotFoundError(id);
      change(found);
      found.updatedAt = this.clock.now();
      return manager.save(found);
    });
    this.active.delete(id);
    return this.view(tenant);
  }

  private async find(id: string): Promise<TenantEntity> {
    const tenant = TENANT_ID_PATTERN.test(id) ? await this.db.manager.findOneBy(TenantEntity, { id }) : null;
    if (!tenant) throw new TenantNotFoundError(id);
    return tenant;
  }

  private limitsOf(tenant: TenantEntity): TenantLimits {
    return effectiveLimits(this.plans.limitsOf(tenant.plan), tenant.limitOverrides);
  }

  private view(tenant: TenantEntity): TenantView {
    return {
      id: tenant.id,
      name: tenant.name,
      plan: tenant.plan,
      status: tenant.status,
      limits: this.limitsOf(tenant),
      overrides: tenant.limitOverrides,
      logContent: tenant.logContent,
      createdAt: new Date(tenant.createdAt).toISOString(),
      updatedAt: new Date(tenant.updatedAt).toISOString(),
    };
  }
}

export function assertTenantId(id: string): void {
  if (!TENANT_ID_PATTERN.test(id)) throw new InvalidTenantIdError();
}

/** Counts are whole and not negative; models, when the module knows its models, are known ones. */
function assertValidOverrides(overrides: LimitOverrides, knownModels: string[]): void {
  for (const field of COUNT_LIMITS) {
    const value = overrides[field];
    // Stored in BIGINT columns and summed in JavaScript numbers: the safe integers bound both.
    if (value !== undefined && value !== null && !(Number.isSafeInteger(value) && value >= 0)) {
      throw new InvalidLimitsError(`'${field}' must be a whole number of 0 or more, or null for no limit.`, field);
    }
  }
  const cost = overrides.costPerMonthUsd;
  if (cost !== undefined && cost !== null && !(Number.isFinite(cost) && cost >= 0 && Number.isSafeInteger(Math.ceil(cost * 1_000_000)))) {
    throw new InvalidLimitsError(`'costPerMonthUsd' must be a number of 0 or more, or null for no limit.`, 'costPerMonthUsd');
  }
  if (overrides.contextPolicy !== undefined && !CONTEXT_POLICIES.includes(overrides.contextPolicy)) {
    throw new InvalidLimitsError(`'contextPolicy' must be one of ${CONTEXT_POLICIES.join(', ')}.`, 'contextPolicy');
  }
  if (overrides.allowUnknownModels !== undefined && typeof overrides.allowUnknownModels !== 'boolean') {
    throw new InvalidLimitsError(`'allowUnknownModels' must be true or false.`, 'allowUnknownModels');
  }
  if (knownModels.length === 0) return;
  assertKnownModels(overrides.allowedModels ?? [], knownModels, 'allowedModels');
  assertKnownModels(Object.entries(overrides.fallbackModels ?? {}).flat(2), knownModels, 'fallbackModels');
}

function assertKnownModels(models: string[], knownModels: string[], param: string): void {
  const unknown = models.find((model) => !knownModels.includes(model));
  if (unknown !== undefined) throw new InvalidLimitsError(`Unknown model '${unknown}'. Known models: ${knownModels.join(', ')}.`, param);
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
