import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { SecretOptions } from '../ai-module-options';
import { SECRET_OPTIONS } from '../ai-option-slices';
import { InjectUpstreamClient, UpstreamClient } from '../upstream/upstream-client';
import { PooledKey, UpstreamPool } from '../upstream/upstream-pool';

export type KeyVerdict = 'accepted' | 'refused' | 'unverified';

const VERIFY_TIMEOUT_MS = 10_000;

/** The start stopped (`SecretOptions.requireVerifiedKey`): the upstream refused these keys, or they answer for another account. */
export class KeyRefusedAtStartError extends Error {
  constructor(readonly keys: string[]) {
    super(`The start is stopped because the upstream did not accept ${keys.length === 1 ? 'a key' : `${keys.length} keys`}: ${keys.join('; ')}. Fix or rotate the secret, then start again.`);
    this.name = KeyRefusedAtStartError.name;
  }
}

/**
 * One cheap authenticated call per key at start-up (GET /models), so that a wrong key shows in the log before the
 * first tenant sees a 502; the wrong-key guard reads the account it answers for. It runs beside the start, which
 * does not wait for the upstream: the startup probe and readiness wait for it (`done`). With `requireVerifiedKey`
 * the start waits, and a key refused or answering for another account stops it.
 */
@Injectable()
export class KeyVerification implements OnApplicationBootstrap {
  private readonly logger = new Logger('UpstreamKey');
  private readonly verdicts = new Map<PooledKey, KeyVerdict>();
  private finished = false;
  private verification: Promise<void> = Promise.resolve();

  constructor(
    private readonly pool: UpstreamPool,
    @InjectUpstreamClient() private readonly client: UpstreamClient,
    @Inject(SECRET_OPTIONS) private readonly secrets: SecretOptions,
  ) {}

  verdictOf(key: PooledKey): KeyVerdict {
    return this.verdicts.get(key) ?? 'unverified';
  }

  /** Start-up's verification has ended (or is off): what the startup probe and readiness wait for. */
  get done(): boolean {
    return this.finished;
  }

  /** Resolves once start-up's verification has ended. */
  settled(): Promise<void> {
    return this.verification;
  }

  async onApplicationBootstrap(): Promise<void> {
    if (!this.secrets.verifyOnStart) {
      this.finished = true;
      return;
    }
    this.verification = Promise.all(this.pool.keys().map((key) => this.verify(key))).then(() => {
      this.finished = true;
    });
    if (!this.secrets.requireVerifiedKey) return;
    await this.verification;
    this.stopIfRefused();
  }

  private stopIfRefused(): void {
    const refused = this.pool.keys().filter((key) => this.verdictOf(key) === 'refused' || key.out?.reason === 'wrong_account');
    if (refused.length === 0) return;
    throw new KeyRefusedAtStartError(
      refused.map((key) => {
        const { provider, fingerprint } = key.rotation.status();
        const why = this.verdictOf(key) === 'refused' ? 'refused (401)' : 'answers for another account than expected';
        return `upstream ${key.upstream.name}, key ${key.name} (fingerprint ${fingerprint}), read from ${provider}: ${why}`;
      }),
    );
  }

  private async verify(key: PooledKey): Promise<void> {
    const { fingerprint } = key.rotation.status();
    const named = `upstream ${key.upstream.name}, key ${key.name} (fingerprint ${fingerprint})`;
    try {
      const answer = await this.client.listModels({ signal: AbortSignal.timeout(VERIFY_TIMEOUT_MS), apiKey: key.rotation.current(), upstream: key.upstream });
      this.verdicts.set(key, 'accepted');
      this.pool.answered(key, answer.account, false);
      // The wrong-key guard has said why it took the key out.
      if (!key.out) this.logger.log(`The upstream accepted the key: ${named}`);
    } catch (error) {
      const status = (error as { status?: number }).status;
      this.verdicts.set(key, status === 401 ? 'refused' : 'unverified');
      const outcome = status === 401 ? 'REFUSED the key' : `could not be asked (${status ?? (error as Error).name})`;
      this.logger.error(`The upstream ${outcome}: ${named}: fix or rotate the upstream secret`);
    }
  }
}
