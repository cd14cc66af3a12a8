import { Injectable } from '@nestjs/common';
import { BreakerRegistry, KeyVerification, PooledKey, UpstreamPool } from '@tollgate/ai';
import { UpstreamTarget } from '../upstream-target/upstream-target';
import { SecretRefreshDto, UpstreamKeyDto, UpstreamSecretDto, UpstreamStatusDto } from './upstream.dto';

/** What an operator may know of the upstreams: their breakers and keys (which secret is in use, and its state), never a secret. */
@Injectable()
export class UpstreamStatusService {
  constructor(
    private readonly breakers: BreakerRegistry,
    private readonly pool: UpstreamPool,
    private readonly verification: KeyVerification,
    private readonly target: UpstreamTarget,
  ) {}

  status(): UpstreamStatusDto {
    const keys = this.pool.keys().map((key) => this.keyStatus(key));
    return { breakers: this.breakers.statuses(), secret: keys[0], keys };
  }

  /**
   * Re-reads every key from its store now (one read per key, whoever else asks at the same time). A key out of credit
   * comes back into service; one that answered for the wrong account only if its secret changed.
   */
  async refreshSecret(): Promise<SecretRefreshDto> {
    const outcomes = await this.pool.refreshAll();
    const keys = this.pool.keys().map((key, index) => ({ ...this.keyStatus(key), outcome: outcomes[index] }));
    return { ...keys[0], keys };
  }

  private keyStatus(key: PooledKey): UpstreamKeyDto {
    const { fingerprint, version, provider, lastError } = key.rotation.status();
    const { state, restingUntil, out } = this.pool.statusOf(key);
    const secret: UpstreamSecretDto = {
      provider: this.target.providerOf(key.upstream.name, key.name) ?? 'env',
      fingerprint,
      version,
      source: provider,
      verified: this.verification.verdictOf(key),
      ...(lastError ? { storeError: lastError } : {}),
    };
    return { upstream: key.upstream.name, key: key.name, weight: key.weight, state, inFlight: key.inFlight, ...(restingUntil ? { restingUntil } : {}), ...(out ? { out } : {}), ...secret };
  }
}
