import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { devCredentialsPath, readDevCredentials, writeDevCredentials } from './dev-credentials';

describe('dev credentials', () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tollgate-credentials-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('should keep them next to the SQLite file, in ./data with PostgreSQL, and nowhere with an in-memory database', () => {
    expect(devCredentialsPath('sqlite:./data/tollgate.sqlite')).toBe('data/dev-credentials.env');
    expect(devCredentialsPath('sqlite:/var/lib/tollgate/db.sqlite')).toBe('/var/lib/tollgate/dev-credentials.env');
    expect(devCredentialsPath('postgres://tollgate@localhost/tollgate')).toBe('data/dev-credentials.env');
    expect(devCredentialsPath('sqlite::memory:')).toBeUndefined();
  });

  it('should read back what it wrote, in a file only its owner can read, creating the directory', () => {
    const path = join(dir, 'data', 'dev-credentials.env');

    writeDevCredentials(path, { adminToken: 'generated-admin-token-0123', demoKey: 'tg-demo-key' });

    expect(readDevCredentials(path)).toEqual({ adminToken: 'generated-admin-token-0123', demoKey: 'tg-demo-key' });
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readFileSync(path, 'utf8')).toMatch(/^ADMIN_TOKEN=generated-admin-token-0123\nDEMO_KEY=tg-demo-key\n$/m);
  });

  it('should make an existing file owner-only when it rewrites it', () => {
    const path = join(dir, 'dev-credentials.env');
    writeFileSync(path, '', { mode: 0o644 });

    writeDevCredentials(path, { adminToken: 'generated-admin-token-0123' });

    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readDevCredentials(path)).toEqual({ adminToken: 'generated-admin-token-0123', demoKey: undefined });
  });

  it('should read nothing from a missing file, and no admin token too short to be accepted', () => {
    const path = join(dir, 'dev-credentials.env');
    expect(readDevCredentials(path)).toEqual({});

    writeFileSync(path, '# edited by hand\nADMIN_TOKEN=short\nDEMO_KEY=tg-demo-key\n');
    expect(readDevCredentials(path)).toEqual({ adminToken: undefined, demoKey: 'tg-demo-key' });
  });
});
