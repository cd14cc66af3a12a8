import { mkdtempSync, rmSync } from 'node:fs';
import { mkdir, rename, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually } from '../../test/async';
import { FileSecretProvider } from './file-secret.provider';
import { SecretUnavailableError } from './secret-provider';

const KEY = 'sk-live-aaaaaaaaaaaaaaaaaaaa';
const ROTATED_KEY = 'sk-live-bbbbbbbbbbbbbbbbbbbb';

/** The layout the kubelet gives a secret volume: `key -> ..data/key`, `..data -> ..<timestamp>`. */
async function mountLikeKubelet(dir: string, value: string): Promise<string> {
  await mkdir(join(dir, '..2026_11_24_10_00_00.000000001'));
  await writeFile(join(dir, '..2026_11_24_10_00_00.000000001', 'key'), value);
  await symlink('..2026_11_24_10_00_00.000000001', join(dir, '..data'));
  await symlink(join('..data', 'key'), join(dir, 'key'));
  return join(dir, 'key');
}

/** The kubelet's update, up to its last step: a new timestamped directory and a `..data_tmp` link to it. */
async function stageKubeletUpdate(dir: string, value: string): Promise<void> {
  await mkdir(join(dir, '..2026_11_25_10_00_00.000000002'));
  await writeFile(join(dir, '..2026_11_25_10_00_00.000000002', 'key'), value);
  await symlink('..2026_11_25_10_00_00.000000002', join(dir, '..data_tmp'));
}

async function readFailure(provider: FileSecretProvider): Promise<SecretUnavailableError> {
  const error = await provider.read().then(
    (secret) => new Error(`Expected the read to fail, it returned version ${secret.version}.`),
    (error: unknown) => error,
  );
  expect(error).toBeInstanceOf(SecretUnavailableError);
  return error as SecretUnavailableError;
}

describe(FileSecretProvider.name, () => {
  let dir: string;
  let path: string;
  const stops: Array<() => void> = [];

  /** Watches `provider` and counts its callbacks. */
  function watchCalls(provider: FileSecretProvider): { count: number; stop: () => void } {
    const calls = { count: 0, stop: () => {} };
    calls.stop = provider.watch(() => calls.count++);
    stops.push(calls.stop);
    return calls;
  }

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'file-secret-'));
    path = join(dir, 'key');
  });

  afterEach(() => {
    stops.splice(0).forEach((stop) => stop());
    rmSync(dir, { recursive: true, force: true });
  });

  it('should read the file, trimmed', async () => {
    await writeFile(path, `  ${KEY}\n`);

    await expect(new FileSecretProvider(path).read()).resolves.toMatchObject({ value: KEY });
  });

  it('should change the version with the content, and only with it', async () => {
    const provider = new FileSecretProvider(path);
    await writeFile(path, KEY);
    const { version: first } = await provider.read();

    await writeFile(path, `${KEY}\n`);
    await expect(provider.read()).resolves.toMatchObject({ version: first });

    await writeFile(path, ROTATED_KEY);
    const { version: second } = await provider.read();
    expect(second).not.toBe(first);
    expect(second).not.toContain(ROTATED_KEY);
  });

  it('should report a missing file as not_found, naming it', async () => {
    const error = await readFailure(new FileSecretProvider(path));

    expect(error.failure).toBe('not_found');
    expect(error.message).toContain(path);
  });

  it('should report an empty file as empty', async () => {
    await writeFile(path, ' \n\t\n');

    await expect(readFailure(new FileSecretProvider(path))).resolves.toMatchObject({ failure: 'empty' });
  });

  it('should call back when the file is rewritten', async () => {
    await writeFile(path, KEY);
    const provider = new FileSecretProvider(path);
    const calls = watchCalls(provider);

    await writeFile(path, ROTATED_KEY);

    await eventually(() => expect(calls.count).toBeGreaterThan(0));
    await expect(provider.read()).resolves.toMatchObject({ value: ROTATED_KEY });
  });

  it('should read through a Kubernetes secret volume and call back when its ..data link is swapped', async () => {
    const provider = new FileSecretProvider(await mountLikeKubelet(dir, KEY));
    await expect(provider.read()).resolves.toMatchObject({ value: KEY });
    await stageKubeletUpdate(dir, ROTATED_KEY);
    const calls = watchCalls(provider);

    await rename(join(dir, '..data_tmp'), join(dir, '..data'));

    await eventually(() => expect(calls.count).toBeGreaterThan(0));
    await expect(provider.read()).resolves.toMatchObject({ value: ROTATED_KEY });
  });

  it('should stop calling back once stopped', async () => {
    await writeFile(path, KEY);
    const stopped = watchCalls(new FileSecretProvider(path));
    // Watches another file in the directory: events arrive in order, so once it has seen its file
    // change, a watcher still running would have seen the earlier change to the key. No fixed wait.
    const witness = watchCalls(new FileSecretProvider(join(dir, 'witness')));
    await writeFile(path, ROTATED_KEY);
    await eventually(() => expect(stopped.count).toBeGreaterThan(0));

    stopped.stop();
    const countAtStop = stopped.count;
    await writeFile(path, KEY);
    await writeFile(join(dir, 'witness'), 'changed');

    await eventually(() => expect(witness.count).toBeGreaterThan(0));
    expect(stopped.count).toBe(countAtStop);
  });
});
