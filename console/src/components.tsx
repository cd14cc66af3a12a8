import type { ReactNode } from 'react';
import type { Tenant } from './admin-api';

export function ErrorMessage({ message }: { message?: string }) {
  return message ? (
    <p role="alert" className="error">
      {message}
    </p>
  ) : null;
}

/** What a resource shows before its data: its error, or that it is loading. */
export function Pending({ error }: { error?: string }) {
  return error ? <ErrorMessage message={error} /> : <p className="muted">Loading…</p>;
}

export function PageHeader({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <header className="page-header">
      <h1>{title}</h1>
      <div className="actions">{children}</div>
    </header>
  );
}

export function TenantPicker({ tenants, tenantId, onChange }: { tenants: Tenant[]; tenantId?: string; onChange(tenantId: string): void }) {
  if (tenants.length === 0) return <p className="muted">No tenant yet: create one on the Tenants page.</p>;
  return (
    <label className="picker">
      Tenant
      <select value={tenantId ?? ''} onChange={(event) => onChange(event.target.value)}>
        {tenantId === undefined && <option value="">Choose a tenant</option>}
        {tenants.map((tenant) => (
          <option key={tenant.id} value={tenant.id}>
            {tenant.id} ({tenant.name})
          </option>
        ))}
      </select>
    </label>
  );
}
