import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeVault, sendJson } from './fake-vault-server';

const TENANT = '00000000-0000-0000-0000-000000000000';
/** What Key Vault answers a request without a token: the SDK takes the tenant and the resource to ask a token for from it. */
export const KEY_VAULT_CHALLENGE = `Bearer authorization="https://login.microsoftonline.com/${TENANT}", resource="https://vault.azure.net"`;

interface SecretVersionRecord {
  value: string;
  version: string;
  created: number;
}

let certificate: { key: string; cert: string } | undefined;

/** One self-signed certificate for localhost and 127.0.0.1 per test process: RSA key generation is the slow part. */
function selfSignedCertificate(): { key: string; cert: string } {
  if (certificate) return certificate;
  const dir = mkdtempSync(join(tmpdir(), 'fake-key-vault-'));
  try {
    execFileSync(
      '/usr/bin/openssl',
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'],
      { stdio: 'ignore' },
    );
    certificate = { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8') };
    return certificate;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Azure Key Vault's Get Secret over HTTPS on a loopback port, with the bearer challenge the SDK
 * expects: a request without a token gets 401 and `WWW-Authenticate`. Any bearer token is accepted.
 * Trust `ca` (`tlsOptions: { ca }`) and set `disableChallengeResourceVerification`, as `localhost`
 * is not under `vault.azure.net`.
 */
export class FakeKeyVault extends FakeVault {
  /** Authenticated Get Secret requests, whatever was answered (`requests` holds every one, unauthenticated included). */
  reads = 0;
  /** `https://localhost:<port>`, once started. */
  vaultUrl = '';
  private readonly secrets = new Map<string, SecretVersionRecord[]>();

  constructor() {
    super((listener) => createServer(selfSignedCertificate(), listener));
  }

  /** The certificate to trust: it is self-signed, so it is its own CA. */
  get ca(): string {
    return selfSignedCertificate().cert;
  }

  async start(): Promise<{ vaultUrl: string; ca: string }> {
    const port = await this.server.listen();
    this.vaultUrl = `https://localhost:${port}`;
    return { vaultUrl: this.vaultUrl, ca: this.ca };
  }

  /** Adds a new version of the secret, as Key Vault's Set Secret does, and returns its version id. */
  setSecret(name: string, value: string): string {
    const version = randomUUID().replaceAll('-', '');
    const versions = this.secrets.get(name) ?? [];
    versions.push({ value, version, created: Math.floor(Date.now() / 1000) });
    this.secrets.set(name, versions);
    return version;
  }

  protected answer(req: IncomingMessage, res: ServerResponse, body: string): void {
    if (!/^Bearer \S+/.test(req.headers.authorization ?? '')) {
      return sendJson(res, 401, { error: { code: 'Unauthorized', message: 'AKV10000: Request is missing a Bearer or PoP token.' } }, { 'www-authenticate': KEY_VAULT_CHALLENGE });
    }
    const url = new URL(req.url ?? '/', this.vaultUrl);
    const match = /^\/secrets\/([0-9a-zA-Z-]+)(?:\/([0-9a-f]*))?\/?$/.exec(url.pathname);
    if (req.method !== 'GET' || !match) return this.error(res, 400, 'BadParameter', `The operation ${req.method} ${url.pathname} is not supported by this fake.`);
    if (!url.searchParams.get('api-version')) return this.error(res, 400, 'BadParameter', 'The request URI contains an invalid API version.');
    this.reads++;
    const [, name, version] = match;
    switch (this.fault) {
      case 'hang':
        return this.server.hang(res);
      case 'access_denied':
        // Key Vault's real 403 message runs over several lines.
        return this.error(
          res,
          403,
          'Forbidden',
          `Caller is not authorized to perform action on resource.\r\nIf role assignments, deny assignments or role definitions were changed recently, please observe propagation time.\r\nCaller: appid=00000000-0000-0000-0000-000000000001\r\nAction: 'Microsoft.KeyVault/vaults/secrets/getSecret/action'\r\nResource: '/secrets/${name}'\r\n`,
          { innererror: { code: 'ForbiddenByRbac' } },
        );
      case 'throttled':
        return this.error(res, 429, 'Throttled', 'Request was not processed because too many requests were received.', {}, { 'retry-after': '0' });
    }
    const versions = this.fault === 'not_found' ? [] : (this.secrets.get(name) ?? []);
    const secret = version ? versions.find((v) => v.version === version) : versions.at(-1);
    if (!secret) {
      return this.error(
        res,
        404,
        'SecretNotFound',
        `A secret with (name/id) ${version ? `${name}/${version}` : name} was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182`,
      );
    }
    sendJson(
      res,
      200,
      {
        value: secret.value,
        id: `${this.vaultUrl}/secrets/${name}/${secret.version}`,
        attributes: { enabled: true, created: secret.created, updated: secret.created, recoveryLevel: 'Recoverable', recoverableDays: 90 },
        tags: {},
      },
      { 'content-type': 'application/json; charset=utf-8' },
    );
  }

  private error(res: ServerResponse, status: number, code: string, message: string, extra: object = {}, headers: Record<string, string> = {}): void {
    sendJson(res, status, { error: { code, message, ...extra } }, { 'content-type': 'application/json; charset=utf-8', ...headers });
  }
}
