import { Logger } from '@nestjs/common';
import { Worker } from 'node:worker_threads';
import { DependencyUnavailableError } from '../errors/ai-errors';

/** A write the other connection's lock held past the busy timeout is told to come back, as for a database out of reach. */
const BUSY_CODES = new Set(['SQLITE_BUSY', 'SQLITE_LOCKED']);
const BUSY_RETRY_AFTER_MS = 1_000;

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

/** What the worker module gets: the module to run, the database file and its tables' prefix. */
export interface SqliteWorkerData {
  entry: string;
  file: string;
  tablePrefix: string;
}

/** What of an error crosses from the worker: its message, name and the driver's code (`SQLITE_BUSY`…). */
export interface SqliteWriteFailure {
  message: string;
  name: string;
  code?: string;
}

/** A call's answer from the worker: its result, or the error it threw. */
export type SqliteWriterReply = { id: number; result: unknown } | { id: number; error: SqliteWriteFailure };

/** The error a write in the worker threw, as the caller sees it. */
export class SqliteWriteError extends Error {
  readonly code?: string;

  constructor({ message, name, code }: SqliteWriteFailure) {
    super(message);
    this.name = name;
    this.code = code;
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
  private readonly logger = new Logger(SqliteWriter.name);
  private readonly worker: Worker;
  private readonly exited: Promise<unknown>;
  private readonly pending = new Map<number, { resolve(result: unknown): void; reject(error: Error): void }>();
  private nextId = 0;
  private failed = false;
  private stopping = false;

  constructor(data: SqliteWorkerData) {
    this.worker = new Worker(BOOTSTRAP, { eval: true, workerData: data });
    this.exited = new Promise((resolve) => this.worker.once('exit', resolve));
    this.worker.on('message', (reply: SqliteWriterReply) => this.answer(reply));
    this.worker.on('error', (error) => this.fail(error));
    this.worker.on('exit', () => this.fail(new Error('the SQLite writer thread stopped')));
    // Idle, it does not keep the process alive; a write in flight does (see call).
    this.worker.unref();
  }

  get alive(): boolean {
    return !this.failed;
  }

  /** Runs `method` of the worker's module with `argument` (structured-cloned), in the worker's turn. */
  call<T>(method: string, argument: unknown): Promise<T> {
    if (this.failed) return Promise.reject(new Error('the SQLite writer thread stopped'));
    const id = this.nextId++;
    if (this.pending.size === 0) this.worker.ref();
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (result: unknown) => void, reject });
      this.worker.postMessage({ id, method, argument });
    });
  }

  /** After the last write: the worker finishes what it was given, closes its connection and exits. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.worker.ref();
    if (!this.failed) this.worker.postMessage({ stop: true });
    await this.exited;
  }

  private answer(reply: SqliteWriterReply): void {
    const caller = this.pending.get(reply.id);
    this.pending.delete(reply.id);
    if (this.pending.size === 0) this.worker.unref();
    if (caller === undefined) return;
    if ('error' in reply) caller.reject(errorOf(reply.error));
    else caller.resolve(reply.result);
  }

  private fail(error: Error): void {
    if (!this.failed && !this.stopping) this.logger.error(`the SQLite writer thread failed (${error.message}): the hot path's writes run on the event loop from now on`);
    this.failed = true;
    for (const caller of this.pending.values()) caller.reject(error);
    this.pending.clear();
  }
}

function errorOf(failure: SqliteWriteFailure): Error {
  const error = new SqliteWriteError(failure);
  return failure.code !== undefined && BUSY_CODES.has(failure.code) ? new DependencyUnavailableError('database', BUSY_RETRY_AFTER_MS, error) : error;
}
