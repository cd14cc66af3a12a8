import type { TableName } from '../database';
import { MigrationInterface, QueryRunner, Table, TableIndex } from 'typeorm';

const text = (name: string, length: number, isNullable = false) => ({ name, type: 'varchar', length: String(length), isNullable });
const bigint = (name: string, isNullable = false) => ({ name, type: 'bigint', isNullable });

/** Asynchronous chat jobs: the record, lease and result of each one, whichever queue dispatches them. */
export const jobs = (table: TableName) =>
  class Jobs1765000000000 implements MigrationInterface {
    name = 'Jobs1765000000000';

    async up(queryRunner: QueryRunner): Promise<void> {
      await queryRunner.createTable(
        new Table({
          name: table('jobs'),
          columns: [
            { ...text('id', 40), isPrimary: true },
            text('tenant_id', 64),
            text('key_id', 36, true),
            text('status', 16),
            text('model', 256),
            { name: 'request', type: 'text' },
            text('context_policy', 16, true),
            text('webhook_url', 2048, true),
            text('webhook_status', 16, true),
            bigint('tenant_ordinal'),
            { name: 'runs', type: 'integer' },
            bigint('not_before'),
            text('lease_token', 36, true),
            bigint('lease_expires_at', true),
            { name: 'result', type: 'text', isNullable: true },
            { name: 'error', type: 'text', isNullable: true },
            bigint('created_at'),
            bigint('started_at', true),
            bigint('finished_at', true),
            bigint('expires_at', true),
          ],
          indices: [
            // The queue's pick: the lowest per-tenant ordinal first, which is what makes it fair.
            new TableIndex({ name: table('jobs_pick'), columnNames: ['status', 'tenant_ordinal', 'created_at'] }),
            new TableIndex({ name: table('jobs_tenant_status'), columnNames: ['tenant_id', 'status'] }),
            new TableIndex({ name: table('jobs_expiry'), columnNames: ['expires_at'] }),
          ],
        }),
      );
    }

    async down(queryRunner: QueryRunner): Promise<void> {
      await queryRunner.dropTable(table('jobs'));
    }
  };
