import { useState } from 'react';
import { type AdminApi, COUNT_LIMITS, type CountLimit, type Limits, type Tenant } from '../admin-api';
import { ErrorMessage } from '../components';
import { formatLimit } from '../format';
import { useAction } from '../use-resource';

/** One limit's override as the form holds it: empty is the plan's value. */
interface LimitField {
  value: string;
  unlimited: boolean;
}

function fieldsOf(overrides: Partial<Limits>): Record<CountLimit, LimitField> {
  const entries = COUNT_LIMITS.map(([limit]) => {
    const override = overrides[limit];
    return [limit, { value: typeof override === 'number' ? String(override) : '', unlimited: override === null }];
  });
  return Object.fromEntries(entries) as Record<CountLimit, LimitField>;
}

/**
 * The body of PUT /quota, which replaces every override: the overrides the console does not edit
 * (models, fallbacks, context policy) are sent back as they are.
 */
function overridesOf(tenant: Tenant, fields: Record<CountLimit, LimitField>): Partial<Limits> {
  const overrides: Partial<Limits> = { ...tenant.overrides };
  for (const [limit] of COUNT_LIMITS) {
    const { value, unlimited } = fields[limit];
    if (unlimited) overrides[limit] = null;
    else if (value.trim() !== '') overrides[limit] = Number(value);
    else delete overrides[limit];
  }
  return overrides;
}

/** A tenant's plan (PATCH) and its count limits (PUT /quota), against what is in force. */
export function TenantSettings({ api, tenant, onSaved, onClose }: { api: AdminApi; tenant: Tenant; onSaved(): void; onClose(): void }) {
  const [plan, setPlan] = useState(tenant.plan);
  const [fields, setFields] = useState(() => fieldsOf(tenant.overrides));
  const save = useAction();
  const [saved, setSaved] = useState<string>();

  const setField = (limit: CountLimit, change: Partial<LimitField>) => setFields((previous) => ({ ...previous, [limit]: { ...previous[limit], ...change } }));
  const saveWith = async (what: string, action: () => Promise<unknown>) => {
    setSaved(undefined);
    if (!(await save.run(action))) return;
    setSaved(what);
    onSaved();
  };

  return (
    <section className="panel" aria-label={`Plan and limits of ${tenant.id}`}>
      <header className="page-header">
        <h2>
          Plan and limits of <code>{tenant.id}</code>
        </h2>
        <button type="button" onClick={onClose}>
          Close
        </button>
      </header>
      <form
        className="inline-form"
        onSubmit={(event) => {
          event.preventDefault();
          void saveWith('Plan saved.', () => api.updateTenant(tenant.id, { plan: plan.trim() }));
        }}
      >
        <label>
          Plan
          <input value={plan} onChange={(event) => setPlan(event.target.value)} required maxLength={64} />
        </label>
        <button type="submit" disabled={save.busy}>
          Save plan
        </button>
      </form>
      <form
        onSubmit={(event) => {
          event.preventDefault();
          void saveWith('Limits saved.', () => api.setLimits(tenant.id, overridesOf(tenant, fields)));
        }}
      >
        <p className="hint">An empty override keeps the plan's value; "No limit" removes the limit for this tenant.</p>
        <table aria-label="Limits">
          <thead>
            <tr>
              <th>Limit</th>
              <th>In force</th>
              <th>Override</th>
              <th>No limit</th>
            </tr>
          </thead>
          <tbody>
            {COUNT_LIMITS.map(([limit, label]) => (
              <tr key={limit}>
                <th scope="row">{label}</th>
                <td>{formatLimit(tenant.limits[limit])}</td>
                <td>
                  <input
                    type="number"
                    min={0}
                    step={limit === 'costPerMonthUsd' ? 'any' : 1}
                    aria-label={`${label} override`}
                    value={fields[limit].value}
                    disabled={fields[limit].unlimited}
                    onChange={(event) => setField(limit, { value: event.target.value })}
                    placeholder="plan's value"
                  />
                </td>
                <td>
                  <input type="checkbox" aria-label={`${label}: no limit`} checked={fields[limit].unlimited} onChange={(event) => setField(limit, { unlimited: event.target.checked })} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        <button type="submit" disabled={save.busy}>
          Save limits
        </button>
      </form>
      {saved && (
        <p role="status" className="notice">
          {saved}
        </p>
      )}
      <ErrorMessage message={save.error} />
    </section>
  );
}
