import { useRef, useState } from 'react';
import type { AdminApi, ApiKey, IssuedApiKey } from '../admin-api';
import { ErrorMessage, PageHeader, Pending, TenantPicker } from '../components';
import { formatTime } from '../format';
import { useAction, useResource } from '../use-resource';

export function KeysPage({ api, tenantId, onTenant }: { api: AdminApi; tenantId?: string; onTenant(tenantId: string): void }) {
  const tenants = useResource(() => api.listTenants(), 'tenants');

  return (
    <>
      <PageHeader title="Keys" />
      {tenants.data ? <TenantPicker tenants={tenants.data} tenantId={tenantId} onChange={onTenant} /> : <Pending error={tenants.error} />}
      {tenantId && <TenantKeys key={tenantId} api={api} tenantId={tenantId} />}
    </>
  );
}

function TenantKeys({ api, tenantId }: { api: AdminApi; tenantId: string }) {
  const keys = useResource(() => api.listKeys(tenantId), tenantId);
  const [issued, setIssued] = useState<IssuedApiKey>();
  const [name, setName] = useState('');
  const issue = useAction();

  const submit = async () => {
    const done = await issue.run(async () => setIssued(await api.issueKey(tenantId, name.trim() || null)));
    if (!done) return;
    setName('');
    keys.reload();
  };

  return (
    <>
      <form
        className="panel inline-form"
        aria-label="Issue a key"
        onSubmit={(event) => {
          event.preventDefault();
          void submit();
        }}
      >
        <h2>
          Issue a key to <code>{tenantId}</code>
        </h2>
        <label>
          Key name
          <input value={name} onChange={(event) => setName(event.target.value)} placeholder="where it is used (optional)" maxLength={200} />
        </label>
        <button type="submit" disabled={issue.busy}>
          Issue key
        </button>
        <ErrorMessage message={issue.error} />
      </form>
      {issued && <IssuedKey issued={issued} onDone={() => setIssued(undefined)} />}
      {keys.data ? <KeyTable api={api} tenantId={tenantId} keys={keys.data} onRevoked={keys.reload} /> : <Pending error={keys.error} />}
    </>
  );
}

/** The key, this once: the gateway keeps only its hash, and the console forgets it when dismissed. */
function IssuedKey({ issued, onDone }: { issued: IssuedApiKey; onDone(): void }) {
  const keyText = useRef<HTMLElement>(null);
  const [copied, setCopied] = useState<string>();

  const copy = async () => {
    // The clipboard API exists only in a secure context (https, or localhost): elsewhere, select the key for Ctrl+C.
    if (navigator.clipboard) {
      try {
        await navigator.clipboard.writeText(issued.key);
        setCopied('Copied to the clipboard.');
        return;
      } catch {
        // Refused (no permission): fall back to the selection.
      }
    }
    if (keyText.current) window.getSelection()?.selectAllChildren(keyText.current);
    setCopied('Selected: press Ctrl+C (⌘C) to copy it.');
  };

  return (
    <section className="panel issued" aria-label="New key">
      <h2>New key {issued.name ? `“${issued.name}”` : ''}</h2>
      <p>This is the only time the key is shown: copy it now and keep it somewhere safe.</p>
      <p className="secret">
        <code ref={keyText} aria-label="New API key">
          {issued.key}
        </code>
        <button type="button" onClick={() => void copy()}>
          Copy
        </button>
      </p>
      {copied && <p role="status">{copied}</p>}
      <button type="button" onClick={onDone}>
        I have copied it
      </button>
    </section>
  );
}

function KeyTable({ api, tenantId, keys, onRevoked }: { api: AdminApi; tenantId: string; keys: ApiKey[]; onRevoked(): void }) {
  const [confirming, setConfirming] = useState<string>();
  const revoke = useAction();
  if (keys.length === 0) return <p className="muted">This tenant has no key yet.</p>;

  const revokeKey = async (keyId: string) => {
    if (!(await revoke.run(() => api.revokeKey(tenantId, keyId)))) return;
    setConfirming(undefined);
    onRevoked();
  };

  return (
    <>
      <ErrorMessage message={revoke.error} />
      <table aria-label="Keys">
        <thead>
          <tr>
            <th>Prefix</th>
            <th>Name</th>
            <th>Created</th>
            <th>Status</th>
            <th>Actions</th>
          </tr>
        </thead>
        <tbody>
          {keys.map((key) => (
            <tr key={key.id}>
              <td>
                <code>{key.prefix}…</code>
              </td>
              <td>{key.name ?? ''}</td>
              <td>{formatTime(key.createdAt)}</td>
              <td>{key.revokedAt ? <span className="badge disabled">revoked {formatTime(key.revokedAt)}</span> : <span className="badge active">active</span>}</td>
              <td>
                <div className="actions">
                  {!key.revokedAt &&
                    (confirming === key.id ? (
                      <>
                        <button type="button" className="danger" disabled={revoke.busy} onClick={() => void revokeKey(key.id)}>
                          Confirm revoke
                        </button>
                        <button type="button" onClick={() => setConfirming(undefined)}>
                          Cancel
                        </button>
                      </>
                    ) : (
                      <button type="button" onClick={() => setConfirming(key.id)}>
                        Revoke
                      </button>
                    ))}
                </div>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}
