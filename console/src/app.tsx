import { useState } from 'react';
import { AdminApi } from './admin-api';
import { type Page, PAGES } from './navigation';
import { AlertsPage } from './pages/alerts-page';
import { KeysPage } from './pages/keys-page';
import { TenantsPage } from './pages/tenants-page';
import { UpstreamPage } from './pages/upstream-page';
import { UsagePage } from './pages/usage-page';
import { SignIn } from './sign-in';

/**
 * The console. The admin token lives only in this component's state, inside the AdminApi: never in a URL,
 * a cookie or web storage, so that closing or reloading the tab signs out.
 */
export function App() {
  const [api, setApi] = useState<AdminApi>();
  const [notice, setNotice] = useState<string>();
  const [page, setPage] = useState<Page>('tenants');
  const [tenantId, setTenantId] = useState<string>();

  const signIn = (token: string) =>
    setApi(
      new AdminApi(token, (message) => {
        setApi(undefined);
        setNotice(`You were signed out: ${message}`);
      }),
    );
  const signOut = () => {
    setApi(undefined);
    setNotice(undefined);
  };
  const open = (next: Page, nextTenantId?: string) => {
    if (nextTenantId !== undefined) setTenantId(nextTenantId);
    setPage(next);
  };

  if (!api) return <SignIn notice={notice} onSignIn={signIn} />;
  return (
    <div className="shell">
      <header className="top-bar">
        <span className="brand">Tollgate console</span>
        <nav aria-label="Pages">
          {PAGES.map(([id, label]) => (
            <button key={id} type="button" aria-current={page === id ? 'page' : undefined} onClick={() => open(id)}>
              {label}
            </button>
          ))}
        </nav>
        <button type="button" className="sign-out" onClick={signOut}>
          Sign out
        </button>
      </header>
      <main>
        {page === 'tenants' && <TenantsPage api={api} onOpen={open} />}
        {page === 'keys' && <KeysPage api={api} tenantId={tenantId} onTenant={setTenantId} />}
        {page === 'usage' && <UsagePage api={api} tenantId={tenantId} onTenant={setTenantId} />}
        {page === 'upstream' && <UpstreamPage api={api} />}
        {page === 'alerts' && <AlertsPage api={api} />}
      </main>
    </div>
  );
}
