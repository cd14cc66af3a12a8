import { parentPort, workerData } from 'node:worker_threads';
import type { EntityManager } from 'typeorm';
import type { Database } from './database';
import type { SqliteWorkerData, SqliteWriterReply } from './sqlite-writer';

/** Prepared statements kept, at most: TypeORM's default for the main connection. */
const STATEMENT_CACHE_SIZE = 100;

interface Statement {
  reader: boolean;
  all(...parameters: unknown[]): unknown[];
  run(...parameters: unknown[]): { changes: number };
}

interface Connection {
  prepare(sql: string): Statement;
  exec(sql: string): void;
  pragma(sql: string): unknown;
  close(): void;
  readonly inTransaction: boolean;
}

/**
 * In SqliteWriter's worker thread: what a repository needs of `Database` to run its raw statements — its dialect, its
 * tables' names and transactions — over a better-sqlite3 connection of the worker's own, as TypeORM's query runner
 * answers them (`{ records }` for a query that returns rows, `{ affected }` for one that changes them).
 */
export function workerDatabase(): Database {
  const { file, tablePrefix } = workerData as SqliteWorkerData;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const BetterSqlite3 = require('better-sqlite3') as new (file: string, options: { fileMustExist: boolean }) => Connection;
  const connection = new BetterSqlite3(file, { fileMustExist: true });
  // As the main connection (see createDataSource): the checkpointer thread, not a COMMIT, moves the log into the file.
  connection.pragma('busy_timeout = 5000');
  connection.pragma('synchronous = NORMAL');
  connection.pragma('wal_autocheckpoint = 10000');
  const statements = new Map<string, Statement>();
  const statement = (sql: string) => {
    let made = statements.get(sql);
    if (made !== undefined) return made;
    // A statement per batch size (see StatementsBySize): the least recently made go, as in TypeORM's own cache.
    if (statements.size >= STATEMENT_CACHE_SIZE) statements.delete(statements.keys().next().value!);
    statements.set(sql, (made = connection.prepare(sql)));
    return made;
  };
  const queryRunner = {
    query: async (sql: string, parameters: unknown[] = []) => {
      const bound = parameters.map((value) => (typeof value === 'boolean' ? Number(value) : value));
      const prepared = statement(sql);
      return prepared.reader ? { records: prepared.all(...bound) } : { affected: prepared.run(...bound).changes };
    },
  };
  const manager = { queryRunner } as unknown as EntityManager;
  const database = {
    dialect: 'sqlite',
    table: (name: string) => `${tablePrefix}${name}`,
    async transaction<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
      connection.exec('BEGIN IMMEDIATE');
      try {
        const result = await work(manager);
        connection.exec('COMMIT');
        return result;
      } catch (error) {
        if (connection.inTransaction) connection.exec('ROLLBACK');
        throw error;
      }
    },
    close: async () => connection.close(),
  };
  return database as unknown as Database;
}

/**
 * Answers SqliteWriter's calls with `methods`, one at a time (each is a transaction of the one connection), until
 * it is told to stop: then the connection closes and the thread ends.
 */
export function serveWrites(database: Database, methods: Record<string, (argument: never) => Promise<unknown>>): void {
  const port = parentPort!;
  let turn: Promise<unknown> = Promise.resolve();
  port.on('message', (message: { id: number; method: string; argument: never } | { stop: true }) => {
    turn = turn.then(async () => {
      if ('stop' in message) {
        await database.close();
        port.close();
        return;
      }
      let reply: SqliteWriterReply;
      try {
        reply = { id: message.id, result: await methods[message.method](message.argument) };
      } catch (error) {
        const { message: text, name, code } = (error instanceof Error ? error : new Error(String(error))) as Error & { code?: unknown };
        reply = { id: message.id, error: { message: text, name, code: typeof code === 'string' ? code : undefined } };
      }
      port.postMessage(reply);
    });
  });
}
