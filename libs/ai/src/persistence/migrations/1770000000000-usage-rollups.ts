import type { TableName } from '../database';
import { MigrationInterface, QueryRunner, Table } from 'typeorm';

const key = (name: string, length: number) => ({ name, type: 'varchar', length: String(length), isPrimary: true });
const bigint = (name: string) => ({ name, type: 'bigint' });

/**
 * The ledger's daily totals, by tenant, UTC day, model, key and endpoint, and how far each tenant's ledger is rolled
 * up and pruned (tenancy/ledger-retention.ts). Two new tables: the ledger itself is left as it is.
 */
export const usageRollups = (table: TableName) =>
  class UsageRollups1770000000000 implements MigrationInterface {
    name = 'UsageRollups1770000000000';

    async up(queryRunner: QueryRunner): Promise<void> {
      await queryRunner.createTable(
        new Table({
          name: table('usage_rollups'),
          columns: [
            key('tenant_id', 64),
            key('day', 10),
            key('model', 256),
            // A key column of the primary key cannot be NULL: a call that named no key is ''.
            { ...key('key_id', 36), default: "''" },
            key('endpoint', 32),
            ...['requests', 'prompt_tokens', 'completion_tokens', 'cached_tokens', 'reasoning_tokens', 'cost_micro_usd', 'failures'].map(bigint),
          ],
        }),
      );
      await queryRunner.createTable(
        new Table({
          name: table('usage_rollup_progress'),
          columns: [key('tenant_id', 64), bigint('rolled_until'), bigint('pruned_until')],
        }),
      );
    }

    async down(queryRunner: QueryRunner): Promise<void> {
      await queryRunner.dropTable(table('usage_rollup_progress'));
      await queryRunner.dropTable(table('usage_rollups'));
    }
  };
