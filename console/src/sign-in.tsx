import { useState } from 'react';
import { AdminApi, AdminApiError } from './admin-api';
import { ErrorMessage } from './components';
import { useAction } from './use-resource';

/** Asks for the admin token and checks it with one call before the console opens. */
export function SignIn({ notice, onSignIn }: { notice?: string; onSignIn(token: string): void }) {
  const [token, setToken] = useState('');
  const check = useAction();

  const submit = async () => {
    const candidate = token.trim();
    const accepted = await check.run(async () => {
      try {
        await new AdminApi(candidate).listTenants();
      } catch (error) {
        if (error instanceof AdminApiError && error.status === 401) throw new Error(`Sign-in failed: ${error.message}`);
        throw error;
      }
    });
    if (accepted) onSignIn(candidate);
  };

  return (
    <main className="sign-in">
      <h1>Tollgate console</h1>
      {notice && <p className="notice">{notice}</p>}
      <form
        onSubmit={(event) => {
          event.preventDefault();
          void submit();
        }}
      >
        {/* No name attribute: nothing of this form could ever be sent as a form field. */}
        <label>
          Admin token
          <input type="password" value={token} onChange={(event) => setToken(event.target.value)} autoComplete="off" autoFocus required />
        </label>
        <p className="hint">The gateway's ADMIN_TOKEN. It stays in this tab's memory: reloading or closing the tab signs out.</p>
        <button type="submit" disabled={check.busy || token.trim() === ''}>
          Sign in
        </button>
        <ErrorMessage message={check.error} />
      </form>
    </main>
  );
}
