import { Worker } from 'node:worker_threads';

/**
 * How the worker loads its module: compiled JavaScript as it is; the TypeScript sources (the library's own tests,
 * which run them as jest does) compiled by swc as they load.
 */
const BOOTSTRAP = `
const { workerData } = require('node:worker_threads');
if (workerData.entry.endsWith('.ts')) {
  const { readFileSync } = require('node:fs');
  const { transformSync } = require(require.resolve('@swc/core', { paths: [workerData.entry] }));
  const options = { jsc: { target: 'es2023', parser: { syntax: 'typescript', decorators: true }, transform: { legacyDecorator: true, decoratorMetadata: true } }, module: { type: 'commonjs' } };
  require.extensions['.ts'] = (module, filename) => module._compile(transformSync(readFileSync(filename, 'utf8'), { ...options, filename }).code, filename);
}
require(workerData.entry);
`;

/** What the worker module gets: the database file, its tables' prefix, and its busy timeout. */
export interface SqliteWorkerData {
  entry: string;
  file: string;
  tablePrefix: string;
}

/** A call's answer from the worker: its result, or the error it threw (its message and name). */
export type SqliteWriterReply = { id: number; result: unknown } | { id: number; error: { message: string; name: string } };

/** The error a write in the worker threw, as the caller sees it. */
export class SqliteWriteError extends Error {
  constructor(message: string, name: string) {
    super(message);
    this.name = name;
  }
}

/**
 * Writes that must not run on the event loop: SQLite's driver runs every statement synchronously, so the hot
 * path's batches (reservations, settlements) run in a worker thread, on a connection of its own to the same
 * file, and the loop only waits for their answer. The worker runs one call at a time, each in its transaction;
 * SQLite's lock orders them with the main connection's. Once the worker has failed, `alive` is false and the
 * caller writes on its own connection again.
 */
export class SqliteWriter {
  private readonly worker: Worker;
  private readonly exited: Promise<unknown>;
  private readonly pending = new Map<number, { resolve(result: unknown): void; reject(error: Error): void }>();
  private nextId = 0;
  private failed = false;

  constructor(data: SqliteWorkerData) {
    this.worker = new Worker(BOOTSTRAP, { eval: true, workerData: data });
    this.exited = new Promise((resolve) => this.worker.once('exit', resolve));
    this.worker.on('message', (reply: SqliteWriterReply) => this.answer(reply));
    this.worker.on('error', (error) => this.fail(error));
    this.worker.on('exit', () => this.fail(new Error('the SQLite writer thread stopped')));
  }

  get alive(): boolean {
    return !this.failed;
  }

  /** Runs `method` of the worker's module with `argument` (structured-cloned), in the worker's turn. */
  call<T>(method: string, argument: unknown): Promise<T> {
    if (this.failed) return Promise.reject(new Error('the SQLite writer thread stopped'));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (result: unknown) => void, reject });
      this.worker.postMessage({ id, method, argument });
    });
  }

  /** After the last write: the worker finishes what it was given, closes its connection and exits. */
  async stop(): Promise<void> {
    if (!this.failed) this.worker.postMessage({ stop: true });
    await this.exited;
  }

  private answer(reply: SqliteWriterReply): void {
    const caller = this.pending.get(reply.id);
    this.pending.delete(reply.id);
    if (caller === undefined) return;
    if ('error' in reply) caller.reject(new SqliteWriteError(reply.error.message, reply.error.name));
    else caller.resolve(reply.result);
  }

  private fail(error: Error): void {
    this.failed = true;
    for (const caller of this.pending.values()) caller.reject(error);
    this.pending.clear();
  }
}
