import { fingerprintOf, SecretProvider, SecretUnavailableError, SecretVersion } from '../src/secrets/secret-provider';

/** A secret store whose current value a test changes, breaks and counts the reads of. */
export class FakeSecretProvider implements SecretProvider {
  readonly description = 'the fake secret store';
  reads = 0;
  private failure?: SecretUnavailableError;

  constructor(private value: string) {}

  rotateTo(value: string): void {
    this.value = value;
  }

  failWith(failure: SecretUnavailableError['failure'] | undefined): void {
    this.failure = failure && new SecretUnavailableError(failure, this.description, `simulated ${failure}`);
  }

  async read(): Promise<SecretVersion> {
    this.reads++;
    await Promise.resolve();
    if (this.failure) throw this.failure;
    return { value: this.value, version: fingerprintOf(this.value) };
  }
}
