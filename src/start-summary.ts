import type { GatewayConfig, SecretSource } from './config/gateway-config';

/**
 * What the gateway runs with, in the few lines an operator reads after a start: where it listens,
 * its database, where limits are counted, its upstreams, its docs and console, and where the admin
 * token comes from. Never a user name, a password or a key: only hosts, paths and variable names.
 */
export function startSummary(config: GatewayConfig, url: string): string[] {
  return [
    `Gateway listening on ${url}`,
    `database  ${describeDatabase(config.databaseUrl)}`,
    `limits    ${config.redisUrl ? describeRedis(config.redisUrl) : 'in this process: each replica counts its own (set REDIS_URL to share them)'}`,
    ...describeUpstreams(config).map((upstream) => `upstream  ${upstream}`),
    `docs      ${config.docsEnabled ? `${url}/docs` : 'off (DOCS_ENABLED=true serves /docs)'}`,
    `console   ${config.consoleEnabled ? `${url}/console` : 'off (CONSOLE_ENABLED=true serves /console)'}`,
    `admin     ${describeAdminToken(config)}`,
  ];
}

function describeDatabase(databaseUrl: string): string {
  if (databaseUrl.startsWith('sqlite:')) {
    const file = databaseUrl.slice('sqlite:'.length);
    return file === ':memory:' ? 'SQLite in memory: nothing is kept after the process ends' : `SQLite ${file}`;
  }
  const url = parsed(databaseUrl);
  if (!url) return 'PostgreSQL';
  const database = decodeURIComponent(url.pathname.slice(1));
  return `PostgreSQL ${database ? `database ${database}` : 'default database'} on ${url.host}`;
}

function describeRedis(redisUrl: string): string {
  const url = parsed(redisUrl);
  const host = url ? ` ${url.host}` : '';
  return `Redis${host}${url?.protocol === 'rediss:' ? ' (TLS)' : ''}: shared by every replica`;
}

/** As UpstreamTarget chooses: the upstreams file, else OPENAI_BASE_URL with its key, else (no key) the built-in simulator. */
function describeUpstreams({ upstreamsFile, upstream }: GatewayConfig): string[] {
  if (upstreamsFile) {
    return upstreamsFile.upstreams.map(
      ({ name, kind, baseURL, keys }) => `${name} (${kind}) ${withoutCredentials(baseURL)}, ${keys.length} key${keys.length === 1 ? '' : 's'}, from ${upstreamsFile.path}`,
    );
  }
  if (!upstream.secret) return ['SIMULATOR: the built-in simulator makes up every answer, nothing reaches OpenAI (set OPENAI_API_KEY to use it)'];
  return [`${withoutCredentials(upstream.baseURL)}, key from ${describeSecret(upstream.secret)}`];
}

function describeSecret(secret: SecretSource): string {
  switch (secret.provider) {
    case 'env':
      return 'OPENAI_API_KEY';
    case 'file':
      return `the file ${secret.path}`;
    case 'aws':
      return `AWS Secrets Manager (${secret.secretId}, ${secret.region})`;
    case 'azure':
      return `Azure Key Vault (${secret.vaultUrl}, ${secret.secretName})`;
  }
}

function describeAdminToken({ adminTokenGenerated, devCredentialsFile }: GatewayConfig): string {
  if (!adminTokenGenerated) return 'token from ADMIN_TOKEN';
  if (devCredentialsFile) return `token kept in ${devCredentialsFile}, with the demo key (set ADMIN_TOKEN to choose one)`;
  return 'token generated for this run, shown above (set ADMIN_TOKEN to choose one)';
}

/** A base URL as written, less any user and password in it. */
function withoutCredentials(address: string): string {
  const url = parsed(address);
  if (!url || (!url.username && !url.password)) return address;
  url.username = '';
  url.password = '';
  return url.toString();
}

function parsed(address: string): URL | undefined {
  try {
    return new URL(address);
  } catch {
    return undefined;
  }
}
