import { Inject, Injectable } from '@nestjs/common';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { IsNull } from 'typeorm';
import { TenancyOptions } from '../ai-module-options';
import { TENANCY_OPTIONS } from '../ai-option-slices';
import { Clock, InjectClock } from '../common/clock';
import { ApiKeyNotFoundError, TenantNotFoundError } from '../errors/ai-errors';
import { Database } from '../persistence/database';
import { ApiKeyEntity } from './api-key.entity';
import { TenantEntity } from './tenant.entity';
import { TtlCache } from './ttl-cache';

/** `tg-` and 40 url-safe characters (240 random bits). */
const KEY_PATTERN = /^tg-[A-Za-z0-9_-]{40}$/;
const PREFIX_LENGTH = 10;

export interface IssuedApiKey {
  id: string;
  /** The full key: shown once, never stored. */
  key: string;
  prefix: string;
  name: string | null;
  createdAt: string;
}

export interface ApiKeyView {
  id: string;
  prefix: string;
  name: string | null;
  createdAt: string;
  revokedAt: string | null;
}

export interface KeyOwner {
  tenantId: string;
  keyId: string;
}

@Injectable()
export class ApiKeyService {
  private readonly owners: TtlCache<KeyOwner | null>;

  constructor(
    private readonly db: Database,
    @InjectClock() private readonly clock: Clock,
    @Inject(TENANCY_OPTIONS) tenancy: TenancyOptions,
  ) {
    this.owners = new TtlCache(clock, tenancy.keyCacheTtlMs);
  }

  async issue(tenantId: string, name: string | null = null): Promise<IssuedApiKey> {
    const key = `tg-${randomBytes(30).toString('base64url')}`;
    const entity = await this.db.transaction(async (manager) => {
      if (!(await manager.existsBy(TenantEntity, { id: tenantId }))) throw new TenantNotFoundError(tenantId);
      return manager.save(
        manager.create(ApiKeyEntity, {
          id: randomUUID(),
          tenantId,
          prefix: key.slice(0, PREFIX_LENGTH),
          keyHash: hashKey(key),
          name,
          createdAt: this.clock.now(),
          revokedAt: null,
        }),
      );
    });
    return { id: entity.id, key, prefix: entity.prefix, name: entity.name, createdAt: new Date(entity.createdAt).toISOString() };
  }

  async list(tenantId: string): Promise<ApiKeyView[]> {
    if (!(await this.db.manager.existsBy(TenantEntity, { id: tenantId }))) throw new TenantNotFoundError(tenantId);
    const keys = await this.db.manager.find(ApiKeyEntity, { where: { tenantId }, order: { createdAt: 'ASC' } });
    return keys.map(toView);
  }

  async revoke(tenantId: string, keyId: string): Promise<void> {
    await this.db.transaction(async (manager) => {
      if (!(await manager.existsBy(TenantEntity, { id: tenantId }))) throw new TenantNotFoundError(tenantId);
      const result = await manager.update(ApiKeyEntity, { id: keyId, tenantId, revokedAt: IsNull() }, { revokedAt: this.clock.now() });
      if (result.affected) return;
      if (!(await manager.existsBy(ApiKeyEntity, { id: keyId, tenantId }))) throw new ApiKeyNotFoundError(keyId);
    });
    this.owners.deleteWhere((owner) => owner?.keyId === keyId);
  }

  /** Whether the tenant's key is issued and not revoked, read from the database (never the cache): for work done later in its name. */
  async isLive(tenantId: string, keyId: string): Promise<boolean> {
    return this.db.manager.existsBy(ApiKeyEntity, { id: keyId, tenantId, revokedAt: IsNull() });
  }

  /**
   * Forgets what is cached about a tenant's keys when it is disabled or enabled, so that on this
   * replica they stop or start working at once, not a cache TTL later. A refused key is cached
   * without its tenant: every refusal is forgotten.
   */
  forgetTenant(tenantId: string): void {
    this.owners.deleteWhere((owner) => owner === null || owner.tenantId === tenantId);
  }

  /**
   * The owner of a live key of an active tenant, or undefined. The lookup is by the key's hash,
   * so that its time does not depend on how much of a guessed key matches a real one.
   */
  async authenticate(rawKey: string): Promise<KeyOwner | undefined> {
    if (!KEY_PATTERN.test(rawKey)) return undefined;
    const owner = await this.owners.getOrLoad(hashKey(rawKey), (hash) => this.findOwner(hash));
    return owner ?? undefined;
  }

  /** A refusal is cached too, as null, so that a flood of wrong keys does not reach the database. */
  private async findOwner(hash: string): Promise<KeyOwner | null> {
    const key = await this.db.manager.findOneBy(ApiKeyEntity, { keyHash: hash, revokedAt: IsNull() });
    const tenant = key && (await this.db.manager.findOneBy(TenantEntity, { id: key.tenantId, status: 'active' }));
    return key && tenant ? { tenantId: key.tenantId, keyId: key.id } : null;
  }
}

function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

function toView(key: ApiKeyEntity): ApiKeyView {
  return {
    id: key.id,
    prefix: key.prefix,
    name: key.name,
    createdAt: new Date(key.createdAt).toISOString(),
    revokedAt: key.revokedAt === null ? null : new Date(key.revokedAt).toISOString(),
  };
}
