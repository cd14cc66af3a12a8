import { useState } from 'react';
import type { AdminApi, Tenant } from '../admin-api';
import { ErrorMessage, PageHeader, Pending } from '../components';
import { formatTime } from '../format';
import type { Page } from '../navigation';
import { useAction, useResource } from '../use-resource';
import { TenantSettings } from './tenant-settings';

export function TenantsPage({ api, onOpen }: { api: AdminApi; onOpen(page: Page, tenantId: string): void }) {
  const tenants = useResource(() => api.listTenants(), 'tenants');
  const [editing, setEditing] = useState<string>();
  const editedTenant = tenants.data?.find((tenant) => tenant.id === editing);

  return (
    <>
      <PageHeader title="Tenants">
        <button type="button" onClick={tenants.reload}>
          Refresh
        </button>
      </PageHeader>
      <CreateTenant api={api} onCreated={tenants.reload} />
      {tenants.data ? (
        <TenantTable tenants={tenants.data} api={api} onChanged={tenants.reload} onOpen={onOpen} onEdit={setEditing} />
      ) : (
        <Pending error={tenants.error} />
      )}
      {editedTenant && <TenantSettings key={editedTenant.id} api={api} tenant={editedTenant} onSaved={tenants.reload} onClose={() => setEditing(undefined)} />}
    </>
  );
}

function CreateTenant({ api, onCreated }: { api: AdminApi; onCreated(): void }) {
  const [id, setId] = useState('');
  const [name, setName] = useState('');
  const [plan, setPlan] = useState('');
  const create = useAction();

  const submit = async () => {
    const created = await create.run(() => api.createTenant({ name: name.trim(), ...(id.trim() ? { id: id.trim() } : {}), ...(plan.trim() ? { plan: plan.trim() } : {}) }));
    if (!created) return;
    setId('');
    setName('');
    setPlan('');
    onCreated();
  };

  return (
    <form
      className="panel inline-form"
      aria-label="New tenant"
      onSubmit={(event) => {
        event.preventDefault();
        void submit();
      }}
    >
      <h2>New tenant</h2>
      <label>
        Tenant id
        <input value={id} onChange={(event) => setId(event.target.value)} placeholder="generated when empty" pattern="[a-z0-9][a-z0-9_\-]{0,63}" />
      </label>
      <label>
        Name
        <input value={name} onChange={(event) => setName(event.target.value)} required maxLength={200} />
      </label>
      <label>
        Plan
        <input value={plan} onChange={(event) => setPlan(event.target.value)} placeholder="default" maxLength={64} />
      </label>
      <button type="submit" disabled={create.busy}>
        Create tenant
      </button>
      <ErrorMessage message={create.error} />
    </form>
  );
}

interface TenantTableProps {
  tenants: Tenant[];
  api: AdminApi;
  onChanged(): void;
  onOpen(page: Page, tenantId: string): void;
  onEdit(tenantId: string): void;
}

function TenantTable({ tenants, api, onChanged, onOpen, onEdit }: TenantTableProps) {
  const change = useAction();
  if (tenants.length === 0) return <p className="muted">No tenant yet.</p>;

  const setEnabled = async (tenant: Tenant, enabled: boolean) => {
    if (await change.run(() => (enabled ? api.updateTenant(tenant.id, { status: 'active' }) : api.disableTenant(tenant.id)))) onChanged();
  };

  return (
    <>
      <ErrorMessage message={change.error} />
      <table aria-label="Tenants">
        <thead>
          <tr>
            <th>Id</th>
            <th>Name</th>
            <th>Plan</th>
            <th>Status</th>
            <th>Created</th>
            <th>Actions</th>
          </tr>
        </thead>
        <tbody>
          {tenants.map((tenant) => (
            <tr key={tenant.id}>
              <td>
                <code>{tenant.id}</code>
              </td>
              <td>{tenant.name}</td>
              <td>{tenant.plan}</td>
              <td>
                <span className={`badge ${tenant.status}`}>{tenant.status}</span>
              </td>
              <td>{formatTime(tenant.createdAt)}</td>
              <td>
                <div className="actions">
                  <button type="button" onClick={() => onOpen('keys', tenant.id)}>
                    Keys
                  </button>
                  <button type="button" onClick={() => onOpen('usage', tenant.id)}>
                    Usage
                  </button>
                  <button type="button" onClick={() => onEdit(tenant.id)}>
                    Plan and limits
                  </button>
                  {tenant.status === 'active' ? (
                    <button type="button" className="danger" disabled={change.busy} onClick={() => void setEnabled(tenant, false)}>
                      Disable
                    </button>
                  ) : (
                    <button type="button" disabled={change.busy} onClick={() => void setEnabled(tenant, true)}>
                      Enable
                    </button>
                  )}
                </div>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}
