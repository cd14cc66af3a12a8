import type { TableName } from '../database';
import { MigrationInterface, QueryRunner, Table, TableIndex } from 'typeorm';

const id = (name: string, length = 36) => ({ name, type: 'varchar', length: String(length), isPrimary: true });
const text = (name: string, length: number, isNullable = false) => ({ name, type: 'varchar', length: String(length), isNullable });
const bigint = (name: string, isNullable = false) => ({ name, type: 'bigint', isNullable });
const integer = (name: string) => ({ name, type: 'integer' });
const json = (name: string) => ({ name, type: 'text' });

/** Tenants, keys, plans, quota usage, reservations and the usage ledger; portable between SQLite and PostgreSQL. */
export const initialSchema = (table: TableName) =>
  class InitialSchema1764000000000 implements MigrationInterface {
    name = 'InitialSchema1764000000000';

    async up(queryRunner: QueryRunner): Promise<void> {
      await queryRunner.createTable(
        new Table({ name: table('plans'), columns: [id('name', 64), json('limits'), bigint('updated_at')] }),
      );
      await queryRunner.createTable(
        new Table({
          name: table('tenants'),
          columns: [id('id', 64), text('name', 200), text('plan', 64), text('status', 16), json('limit_overrides'), bigint('created_at'), bigint('updated_at')],
        }),
      );
      await queryRunner.createTable(
        new Table({
          name: table('api_keys'),
          columns: [id('id'), text('tenant_id', 64), text('prefix', 16), text('key_hash', 64), text('name', 200, true), bigint('created_at'), bigint('revoked_at', true)],
          indices: [
            new TableIndex({ name: table('api_keys_tenant'), columnNames: ['tenant_id'] }),
            new TableIndex({ name: table('api_keys_hash'), columnNames: ['key_hash'], isUnique: true }),
          ],
        }),
      );
      await queryRunner.createTable(
        new Table({
          name: table('quota_usage'),
          columns: [
            { ...text('tenant_id', 64), isPrimary: true },
            { ...text('month', 7), isPrimary: true },
            text('day', 10),
            bigint('day_requests'),
            bigint('tokens'),
            bigint('cost_micro_usd'),
          ],
        }),
      );
      await queryRunner.createTable(
        new Table({
          name: table('reservations'),
          columns: [id('id'), text('tenant_id', 64), text('request_id', 128), text('day', 10), text('month', 7), bigint('tokens'), bigint('cost_micro_usd'), bigint('expires_at'), bigint('created_at')],
          indices: [new TableIndex({ name: table('reservations_expiry'), columnNames: ['expires_at'] })],
        }),
      );
      await queryRunner.createTable(
        new Table({
          name: table('usage_ledger'),
          columns: [
            id('id'),
            text('request_id', 128),
            text('tenant_id', 64),
            text('key_id', 36, true),
            text('model_requested', 256),
            text('model_served', 256, true),
            integer('prompt_tokens'),
            integer('completion_tokens'),
            bigint('cost_micro_usd'),
            integer('attempts'),
            text('outcome', 64),
            { name: 'stream', type: 'boolean' },
            integer('latency_ms'),
            bigint('created_at'),
          ],
          indices: [new TableIndex({ name: table('usage_ledger_tenant_time'), columnNames: ['tenant_id', 'created_at'] })],
        }),
      );
    }

    async down(queryRunner: QueryRunner): Promise<void> {
      for (const name of ['usage_ledger', 'reservations', 'quota_usage', 'api_keys', 'tenants', 'plans']) {
        await queryRunner.dropTable(table(name));
      }
    }
  };
