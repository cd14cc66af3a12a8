import { Client } from 'pg';
import { inRowOrder } from '../../src/tenancy/quota.repository';
import { describeWithPostgres } from './services';

/** Tenant ids (TENANT_ID_PATTERN) whose order a joined `tenant/month` key or a language's collation gets wrong. */
const TENANTS = ['acme-eu', 'acme', 'ab', 'a_b', 'a-c', 'a0', 'acme_eu', 'acme-e'];
const MONTHS = ['2026-12', '2026-11'];

describeWithPostgres('The order quota rows are locked in', (url) => {
  it('should be the same in the code that sends the UPDATEs one by one as in the statement that locks them together', async () => {
    const rows = TENANTS.flatMap((tenantId) => MONTHS.map((month) => ({ tenantId, month })));
    const client = new Client({ connectionString: url });
    await client.connect();
    try {
      // The ORDER BY of LOCK_MONTH_ROWS, over the same rows.
      const { rows: byDatabase } = await client.query<{ tenant_id: string; month: string }>(
        `SELECT tenant_id, month FROM unnest($1::text[], $2::text[]) AS t(tenant_id, month) ORDER BY tenant_id COLLATE "C", month COLLATE "C"`,
        [rows.map((row) => row.tenantId), rows.map((row) => row.month)],
      );

      expect([...rows].sort(inRowOrder)).toEqual(byDatabase.map(({ tenant_id: tenantId, month }) => ({ tenantId, month })));
      expect([...rows].sort(inRowOrder).slice(0, 2).map((row) => row.tenantId)).toEqual(['a-c', 'a-c']);
    } finally {
      await client.end();
    }
  });
});
