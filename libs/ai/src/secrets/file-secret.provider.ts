import { watch } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { fingerprintOf, SecretProvider, SecretUnavailableError, SecretVersion } from './secret-provider';

/**
 * A key in a mounted file, such as a Kubernetes secret volume. Kubernetes updates a volume by
 * swapping a symlink in the directory, so the directory is watched, not the file.
 */
export class FileSecretProvider implements SecretProvider {
  readonly description: string;

  constructor(private readonly path: string) {
    this.description = `the file ${path}`;
  }

  async read(): Promise<SecretVersion> {
    let content: string;
    try {
      content = await readFile(this.path, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw new SecretUnavailableError('not_found', this.description, 'it does not exist');
      if (code === 'EACCES') throw new SecretUnavailableError('access_denied', this.description, 'it cannot be read (permission denied)');
      throw new SecretUnavailableError('unreachable', this.description, `reading it failed (${code ?? 'unknown error'})`);
    }
    const value = content.trim();
    if (!value) throw new SecretUnavailableError('empty', this.description, 'it is empty');
    return { value, version: fingerprintOf(value) };
  }

  watch(onChange: () => void): () => void {
    const name = basename(this.path);
    const watcher = watch(dirname(this.path), (_event, changed) => {
      // `..data` is the symlink Kubernetes swaps; any other change to our own file counts too.
      if (!changed || changed === name || changed.startsWith('..')) onChange();
    });
    watcher.unref();
    return () => watcher.close();
  }
}
