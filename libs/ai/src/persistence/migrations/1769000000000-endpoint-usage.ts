import type { TableName } from '../database';
import { MigrationInterface, QueryRunner, TableColumn } from 'typeorm';

const endpoint = () => new TableColumn({ name: 'endpoint', type: 'varchar', length: '32', default: "'chat.completions'" });

/**
 * Which API each ledger row is for (and each reservation, which an abandoned call's row is written from), and the parts
 * of its tokens OpenAI bills apart: prompt tokens read from the cache, completion tokens spent reasoning.
 */
export const endpointUsage = (table: TableName) =>
  class EndpointUsage1769000000000 implements MigrationInterface {
    name = 'EndpointUsage1769000000000';

    async up(queryRunner: QueryRunner): Promise<void> {
      await queryRunner.addColumns(table('usage_ledger'), [
        endpoint(),
        new TableColumn({ name: 'cached_tokens', type: 'integer', default: 0 }),
        new TableColumn({ name: 'reasoning_tokens', type: 'integer', default: 0 }),
      ]);
      await queryRunner.addColumn(table('reservations'), endpoint());
    }

    async down(queryRunner: QueryRunner): Promise<void> {
      await queryRunner.dropColumn(table('reservations'), 'endpoint');
      for (const column of ['reasoning_tokens', 'cached_tokens', 'endpoint']) await queryRunner.dropColumn(table('usage_ledger'), column);
    }
  };
