import { randomUUID } from 'node:crypto';
import { createServer, IncomingMessage, ServerResponse } from 'node:http';
import { FakeVault, sendJson } from './fake-vault-server';

const ACCOUNT = '123456789012';
const REGION = 'us-east-1';

interface StoredSecret {
  name: string;
  arn: string;
  versionId: string;
  secretString: string;
  createdDate: number;
}

/**
 * AWS Secrets Manager's GetSecretValue over the AWS JSON 1.1 protocol, on a loopback port: point the
 * real SDK's `endpoint` at it. Requests must be SigV4-signed (any credentials do), as the real service
 * rejects unsigned ones.
 */
export class FakeSecretsManager extends FakeVault {
  /** GetSecretValue requests received, whatever was answered. */
  reads = 0;
  private readonly secrets = new Map<string, StoredSecret>();

  constructor() {
    super((listener) => createServer(listener));
  }

  async start(): Promise<{ endpoint: string }> {
    const port = await this.server.listen();
    return { endpoint: `http://127.0.0.1:${port}` };
  }

  /** Sets the secret's AWSCURRENT value (an object is stored as JSON); a new value gets a new VersionId, which is returned. */
  putSecret(id: string, value: string | Record<string, unknown>, versionId?: string): string {
    const secretString = typeof value === 'string' ? value : JSON.stringify(value);
    const existing = this.secrets.get(id);
    if (existing && existing.secretString === secretString && versionId === undefined) return existing.versionId;
    const secret: StoredSecret = {
      name: id,
      arn: existing?.arn ?? `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:${id}-${randomUUID().slice(0, 6)}`,
      versionId: versionId ?? randomUUID(),
      secretString,
      createdDate: Date.now() / 1000,
    };
    this.secrets.set(id, secret);
    return secret.versionId;
  }

  protected answer(req: IncomingMessage, res: ServerResponse, body: string): void {
    const target = req.headers['x-amz-target'];
    if (!String(req.headers.authorization).startsWith('AWS4-HMAC-SHA256 ')) {
      return this.error(res, 'MissingAuthenticationTokenException', 'Missing Authentication Token');
    }
    if (req.method !== 'POST' || req.url !== '/' || target !== 'secretsmanager.GetSecretValue') {
      return this.error(res, 'UnknownOperationException', `Unknown operation ${String(target)}`);
    }
    this.reads++;
    const { SecretId: secretId } = JSON.parse(body) as { SecretId: string; VersionStage?: string };
    switch (this.fault) {
      case 'hang':
        return this.server.hang(res);
      case 'access_denied':
        return this.error(
          res,
          'AccessDeniedException',
          `User: arn:aws:iam::${ACCOUNT}:user/test is not authorized to perform: secretsmanager:GetSecretValue on resource: ${secretId} because no identity-based policy allows the secretsmanager:GetSecretValue action`,
        );
      case 'throttled':
        return this.error(res, 'ThrottlingException', 'Rate exceeded');
    }
    const secret = this.fault === 'not_found' ? undefined : [...this.secrets.values()].find((s) => s.name === secretId || s.arn === secretId);
    if (!secret) return this.error(res, 'ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
    sendJson(
      res,
      200,
      {
        ARN: secret.arn,
        Name: secret.name,
        VersionId: secret.versionId,
        SecretString: secret.secretString,
        VersionStages: ['AWSCURRENT'],
        CreatedDate: secret.createdDate,
      },
      this.headers(),
    );
  }

  // JSON 1.1 services name the error in the body's `__type`, which the SDK reads first for this protocol.
  private error(res: ServerResponse, type: string, message: string): void {
    sendJson(res, 400, { __type: type, message }, this.headers());
  }

  private headers(): Record<string, string> {
    return { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': randomUUID() };
  }
}
