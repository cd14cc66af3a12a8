import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import type { Dialect } from '../../src/persistence/database';

/** The environment variables that point the integration suites at real services. */
export type ServiceVariable = 'TEST_DATABASE_URL' | 'TEST_REDIS_URL';

const EXAMPLES: Record<ServiceVariable, string> = {
  TEST_DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/test',
  TEST_REDIS_URL: 'redis://127.0.0.1:6379',
};

/**
 * A suite that needs the service `variable` names. Without it the suite is skipped, with a
 * warning, on a developer's machine, but fails in CI: a pipeline must not pass by testing nothing.
 */
export function describeWithService(variable: ServiceVariable, name: string, body: (url: string) => void): void {
  const url = process.env[variable];
  if (url) {
    describe(name, () => body(url));
  } else if (process.env.CI === 'true') {
    describe(name, () => {
      it(`should have ${variable} set`, () => {
        throw new Error(`${variable} is not set: in CI the integration suites must run against a real service (e.g. ${EXAMPLES[variable]}).`);
      });
    });
  } else {
    console.warn(`Skipping "${name}": ${variable} is not set (e.g. ${variable}=${EXAMPLES[variable]}).`);
    describe.skip(name, () => body(''));
  }
}

export const describeWithPostgres = (name: string, body: (url: string) => void): void => describeWithService('TEST_DATABASE_URL', name, body);

export const describeWithRedis = (name: string, body: (url: string) => void): void => describeWithService('TEST_REDIS_URL', name, body);

/** Empty databases of one dialect for a suite; every one is removed when the suite ends. */
export interface TestDatabases {
  readonly dialect: Dialect;
  /** The URL of a new, empty database. */
  fresh(): Promise<string>;
}

/**
 * Declares the suite twice with one body: on SQLite (always) and on PostgreSQL (under the
 * `TEST_DATABASE_URL` contract of {@link describeWithService}).
 */
export function describeEachDatabase(name: string, body: (databases: TestDatabases) => void): void {
  describe(`${name} on SQLite`, () => body(sqliteDatabases()));
  describeWithPostgres(`${name} on PostgreSQL`, (url) => body(postgresDatabases(url)));
}

/** Files in a temporary folder, removed after the suite. */
export function sqliteDatabases(): TestDatabases {
  let folder: string | undefined;
  let created = 0;
  afterAll(() => {
    if (folder) rmSync(folder, { recursive: true, force: true });
  });
  return {
    dialect: 'sqlite',
    fresh: async () => {
      folder ??= mkdtempSync(join(tmpdir(), 'tollgate-it-'));
      return `sqlite:${join(folder, `db-${++created}.sqlite`)}`;
    },
  };
}

/**
 * Databases created beside the one `TEST_DATABASE_URL` names (through its server's `postgres`
 * database), so that suites in parallel workers never see each other's rows; dropped after the suite.
 */
export function postgresDatabases(url: string): TestDatabases {
  let admin: Client | undefined;
  const created: string[] = [];
  // Dropping a database waits for its server to end the connections to it: on a busy machine, seconds.
  afterAll(async () => {
    if (!admin) return;
    for (const name of created) await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }, 30_000);
  return {
    dialect: 'postgres',
    fresh: async () => {
      if (!admin) {
        admin = new Client({ connectionString: withDatabase(url, 'postgres') });
        await admin.connect();
      }
      const name = `tollgate_it_${randomBytes(6).toString('hex')}`;
      await admin.query(`CREATE DATABASE ${name}`);
      created.push(name);
      return withDatabase(url, name);
    },
  };
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}
