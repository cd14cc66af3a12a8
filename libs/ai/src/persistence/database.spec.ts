import { resolvedOptions } from '../../test/factories';
import { Database } from './database';

describe(Database.name, () => {
  let database: Database;

  afterEach(() => database?.close());

  it('should run any number of statements on SQLite, whose driver hands out one query runner again and again', async () => {
    database = new Database(resolvedOptions({ database: { url: 'sqlite::memory:' } }).database!, { entities: [], migrations: () => [] });
    await database.open(false);

    // Each wrap of the runner used to wrap the previous one: the stack overflowed after some thousands of statements.
    for (let i = 0; i < 20_000; i++) await database.manager.query('SELECT 1');

    expect(await database.manager.query('SELECT 2 AS two')).toEqual([{ two: 2 }]);
    expect(database.status.up).toBe(true);
  });
});
