import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { SecretOptions } from '../ai-module-options';
import { SECRET_OPTIONS } from '../ai-option-slices';
import { InjectUpstreamClient, UpstreamClient } from '../upstream/upstream-client';
import { UpstreamKeyManager } from './upstream-key-manager';

export type KeyVerdict = 'accepted' | 'refused' | 'unverified';

const VERIFY_TIMEOUT_MS = 10_000;

/** One cheap authenticated call at start-up (GET /models), so that a wrong key shows in the log before the first tenant sees a 502. */
@Injectable()
export class KeyVerification implements OnApplicationBootstrap {
  private readonly logger = new Logger('UpstreamKey');
  verdict: KeyVerdict = 'unverified';

  constructor(
    private readonly keys: UpstreamKeyManager,
    @InjectUpstreamClient() private readonly client: UpstreamClient,
    @Inject(SECRET_OPTIONS) private readonly secrets: SecretOptions,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (!this.secrets.verifyOnStart) return;
    const { fingerprint } = this.keys.status();
    try {
      await this.client.listModels({ signal: AbortSignal.timeout(VERIFY_TIMEOUT_MS), apiKey: this.keys.current() });
      this.verdict = 'accepted';
      this.logger.log(`The upstream accepted the key (fingerprint ${fingerprint})`);
    } catch (error) {
      const status = (error as { status?: number }).status;
      this.verdict = status === 401 ? 'refused' : 'unverified';
      const outcome = status === 401 ? 'REFUSED the key' : `could not be asked (${status ?? (error as Error).name})`;
      this.logger.error(`The upstream ${outcome} (fingerprint ${fingerprint}): fix or rotate the upstream secret`);
    }
  }
}
