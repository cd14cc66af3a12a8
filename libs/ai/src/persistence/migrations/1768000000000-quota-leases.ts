import type { TableName } from '../database';
import { MigrationInterface, QueryRunner, Table, TableColumn, TableIndex } from 'typeorm';

/** Quota leased by replicas, admitted from without a database round trip per call (tenancy/quota-leases.ts). */
export const quotaLeases = (table: TableName) =>
  class QuotaLeases1768000000000 implements MigrationInterface {
    name = 'QuotaLeases1768000000000';

    async up(queryRunner: QueryRunner): Promise<void> {
      await queryRunner.addColumns(table('quota_usage'), [
        new TableColumn({ name: 'leased_requests', type: 'bigint', default: 0 }),
        new TableColumn({ name: 'leased_tokens', type: 'bigint', default: 0 }),
        new TableColumn({ name: 'leased_cost_micro_usd', type: 'bigint', default: 0 }),
      ]);
      await queryRunner.createTable(
        new Table({
          name: table('quota_leases'),
          columns: [
            { name: 'id', type: 'varchar', length: '36', isPrimary: true },
            { name: 'tenant_id', type: 'varchar', length: '64' },
            { name: 'month', type: 'varchar', length: '7' },
            { name: 'day', type: 'varchar', length: '10' },
            { name: 'requests', type: 'bigint' },
            { name: 'tokens', type: 'bigint' },
            { name: 'cost_micro_usd', type: 'bigint' },
            { name: 'expires_at', type: 'bigint' },
          ],
        }),
      );
      await queryRunner.createIndex(table('quota_leases'), new TableIndex({ name: table('quota_leases_expiry'), columnNames: ['expires_at'] }));
    }

    async down(queryRunner: QueryRunner): Promise<void> {
      await queryRunner.dropTable(table('quota_leases'));
      for (const column of ['leased_cost_micro_usd', 'leased_tokens', 'leased_requests']) await queryRunner.dropColumn(table('quota_usage'), column);
    }
  };
