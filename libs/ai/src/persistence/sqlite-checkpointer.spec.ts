import Database from 'better-sqlite3';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DependencyStatus } from '../health/dependency-status';
import { createDataSource } from './database';
import { SqliteCheckpointer } from './sqlite-checkpointer';

/** A WAL database whose connection does not checkpoint by itself (Database's leaves it to a 40 MB log). */
function openWithoutAutoCheckpoint(file: string): Database.Database {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  db.pragma('wal_autocheckpoint = 0');
  db.exec('CREATE TABLE rows (id INTEGER PRIMARY KEY, payload TEXT NOT NULL)');
  return db;
}

/** Writes `transactions` one at a time, a millisecond apart, as the gateway's batches come under load. */
async function write(db: Database.Database, transactions: number): Promise<void> {
  const insert = db.prepare('INSERT INTO rows (payload) VALUES (?)');
  const batch = db.transaction(() => {
    for (let i = 0; i < ROWS_PER_TRANSACTION; i++) insert.run('x'.repeat(200));
  });
  for (let i = 0; i < transactions; i++) {
    batch();
    await sleep(1);
  }
}

const walBytes = (file: string) => statSync(`${file}-wal`).size;

const ROWS_PER_TRANSACTION = 60;
/** Writes a millisecond apart take real time: a test timeout, not an assertion. */
const TEST_TIMEOUT_MS = 30_000;

describe(SqliteCheckpointer.name, () => {
  let folder: string;

  beforeEach(() => {
    folder = mkdtempSync(join(tmpdir(), 'tollgate-checkpoint-'));
  });

  afterEach(() => rmSync(folder, { recursive: true, force: true }));

  it('should keep the log from growing without end while the writer goes on, where without it the log only grows', async () => {
    const unattended = join(folder, 'unattended.sqlite');
    const checkpointed = join(folder, 'checkpointed.sqlite');
    const plain = openWithoutAutoCheckpoint(unattended);
    const watched = openWithoutAutoCheckpoint(checkpointed);
    const checkpointer = new SqliteCheckpointer(checkpointed, 10);

    await write(plain, 6 * 100);
    for (let part = 0; part < 6; part++) {
      await write(watched, 100);
      await checkpointer.nextCheckpoint();
    }

    // Every write stays in the unattended log; the checkpointed one starts again from its beginning after a checkpoint.
    expect(walBytes(unattended)).toBeGreaterThan(6_000_000);
    expect(walBytes(checkpointed)).toBeLessThan(walBytes(unattended) / 2);
    await checkpointer.stop();
    expect(watched.prepare('SELECT COUNT(*) AS n FROM rows').get()).toEqual({ n: 6 * 100 * ROWS_PER_TRANSACTION });
    plain.close();
    watched.close();
  }, TEST_TIMEOUT_MS);

  // TypeORM's transactions read, await, then write (a tenant's quota: SELECT, then UPDATE). Begun deferred, such a write
  // failed at once with "database is locked" whenever the checkpointer held the write lock at that moment.
  it('should never make a transaction of the database that reads before it writes fail with "database is locked"', async () => {
    const file = join(folder, 'busy.sqlite');
    openWithoutAutoCheckpoint(file).close();
    const dataSource = createDataSource({ url: `sqlite:${file}`, tablePrefix: '' }, { entities: [], migrations: () => [] }, new DependencyStatus('database', 'in a test'));
    await dataSource.initialize();
    const checkpointer = new SqliteCheckpointer(file, 1);
    const failures: string[] = [];

    for (let i = 0; i < 300; i++) {
      await dataSource
        .transaction(async (manager) => {
          await manager.query('SELECT COUNT(*) AS n FROM rows');
          await sleep(1);
          await manager.query('INSERT INTO rows (payload) VALUES (?)', ['x'.repeat(200)]);
        })
        .catch((error: Error) => failures.push(error.message));
    }

    await checkpointer.stop();
    expect(failures).toEqual([]);
    await dataSource.destroy();
  }, TEST_TIMEOUT_MS);

  it('should stop, even when its worker has already failed', async () => {
    const checkpointer = new SqliteCheckpointer(join(folder, 'missing.sqlite'), 10);

    await expect(checkpointer.stop()).resolves.toBeUndefined();
  });
});
