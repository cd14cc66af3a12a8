import type { TableName } from '../database';
import { MigrationInterface, QueryRunner, TableColumn } from 'typeorm';

/** Whether a tenant's prompts and completions may be logged: off unless an operator turns it on. */
export const tenantLogContent = (table: TableName) =>
  class TenantLogContent1764100000000 implements MigrationInterface {
    name = 'TenantLogContent1764100000000';

    async up(queryRunner: QueryRunner): Promise<void> {
      // As TypeORM writes the entity's `default: false` on each database, so that nothing is left to synchronize.
      const off = queryRunner.connection.options.type === 'postgres' ? 'false' : '0';
      await queryRunner.addColumn(table('tenants'), new TableColumn({ name: 'log_content', type: 'boolean', default: off }));
    }

    async down(queryRunner: QueryRunner): Promise<void> {
      await queryRunner.dropColumn(table('tenants'), 'log_content');
    }
  };
