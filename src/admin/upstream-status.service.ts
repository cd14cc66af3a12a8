import { Injectable } from '@nestjs/common';
import { BreakerRegistry, KeyVerification, UpstreamKeyManager } from '@tollgate/ai';
import { UpstreamTarget } from '../upstream-target/upstream-target';
import { SecretRefreshDto, UpstreamSecretDto, UpstreamStatusDto } from './upstream.dto';

/** What an operator may know of the upstream: its breakers and which secret is in use, never the secret. */
@Injectable()
export class UpstreamStatusService {
  constructor(
    private readonly breakers: BreakerRegistry,
    private readonly keys: UpstreamKeyManager,
    private readonly verification: KeyVerification,
    private readonly target: UpstreamTarget,
  ) {}

  status(): UpstreamStatusDto {
    return { breakers: this.breakers.statuses(), secret: this.secretInUse() };
  }

  /** Re-reads the key from its store now (one read, whoever else asks at the same time). */
  async refreshSecret(): Promise<SecretRefreshDto> {
    const outcome = await this.keys.refresh();
    return { ...this.secretInUse(), outcome };
  }

  private secretInUse(): UpstreamSecretDto {
    const { fingerprint, version, provider, lastError } = this.keys.status();
    return {
      provider: this.target.providerName,
      fingerprint,
      version,
      source: provider,
      verified: this.verification.verdict,
      ...(lastError ? { storeError: lastError } : {}),
    };
  }
}
