import { Worker } from 'node:worker_threads';

/** How often the worker moves the write-ahead log into the database file. */
const CHECKPOINT_INTERVAL_MS = 1_000;

/**
 * The worker's code: its own connection to the file, and each interval two checkpoints. The passive one copies the
 * log into the file and syncs it without taking any lock; the writer goes on meanwhile, so it rarely copies all.
 * The restarting one then takes the writer's lock for what was written since, little, and lets the next write
 * start the log again from its beginning, which keeps it from growing without end.
 */
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file, { fileMustExist: true });
db.pragma('busy_timeout = 1000');
const checkpoint = () => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
    db.pragma('wal_checkpoint(RESTART)');
  } catch {}
  parentPort.postMessage('checkpointed');
};
const timer = setInterval(checkpoint, workerData.intervalMs);
parentPort.on('message', () => { clearInterval(timer); db.close(); parentPort.close(); });
`;

/**
 * SQLite in WAL mode checkpoints, by default, inside the COMMIT that takes the log past 1,000 pages, and with
 * `synchronous = NORMAL` a checkpoint syncs the file to disk: on the event loop, tens of milliseconds now and
 * then. The database's own connection leaves that to a log ten times larger (`wal_autocheckpoint = 10000`), which this
 * worker thread keeps from ever filling, beside the loop. Durability is the log's, so it does not change.
 */
export class SqliteCheckpointer {
  private readonly worker: Worker;
  private readonly exited: Promise<unknown>;

  constructor(file: string, intervalMs = CHECKPOINT_INTERVAL_MS) {
    this.worker = new Worker(WORKER, { eval: true, workerData: { file, intervalMs, driver: require.resolve('better-sqlite3') } });
    this.exited = new Promise((resolve) => this.worker.once('exit', resolve));
    // A worker that failed leaves the log to be checkpointed when the database closes: nothing is lost.
    this.worker.on('error', () => undefined);
    this.worker.unref();
  }

  /** Resolves once the worker has made its next checkpoint. */
  nextCheckpoint(): Promise<void> {
    return new Promise((resolve) => this.worker.once('message', () => resolve()));
  }

  /** Before the database closes, which checkpoints whatever is left. */
  async stop(): Promise<void> {
    this.worker.postMessage('stop');
    await this.exited;
  }
}
