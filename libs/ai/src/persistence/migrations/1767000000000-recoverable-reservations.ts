import type { TableName } from '../database';
import { MigrationInterface, QueryRunner, Table, TableColumn } from 'typeorm';

/**
 * A reservation carries what its ledger row needs, so that one whose replica died can be billed
 * and written to the ledger by any other replica; ledger rows the database refuses are kept apart.
 */
export const recoverableReservations = (table: TableName) =>
  class RecoverableReservations1767000000000 implements MigrationInterface {
    name = 'RecoverableReservations1767000000000';

    async up(queryRunner: QueryRunner): Promise<void> {
      const off = queryRunner.connection.options.type === 'postgres' ? 'false' : '0';
      await queryRunner.addColumns(table('reservations'), [
        new TableColumn({ name: 'key_id', type: 'varchar', length: '36', isNullable: true }),
        new TableColumn({ name: 'model', type: 'varchar', length: '256', default: "''" }),
        new TableColumn({ name: 'stream', type: 'boolean', default: off }),
        new TableColumn({ name: 'prompt_tokens', type: 'bigint', default: 0 }),
      ]);
      await queryRunner.createTable(
        new Table({
          name: table('usage_dead_letters'),
          columns: [
            { name: 'id', type: 'varchar', length: '36', isPrimary: true },
            { name: 'tenant_id', type: 'varchar', length: '64' },
            { name: 'reservation', type: 'text' },
            { name: 'row', type: 'text' },
            { name: 'error', type: 'text' },
            { name: 'created_at', type: 'bigint' },
          ],
        }),
      );
    }

    async down(queryRunner: QueryRunner): Promise<void> {
      await queryRunner.dropTable(table('usage_dead_letters'));
      for (const column of ['prompt_tokens', 'stream', 'model', 'key_id']) await queryRunner.dropColumn(table('reservations'), column);
    }
  };
