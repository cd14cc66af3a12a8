import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** What a development start keeps for the next one: the admin token it generated and the demo tenant's key. */
export interface DevCredentials {
  adminToken?: string;
  demoKey?: string;
}

const FILE_NAME = 'dev-credentials.env';

/** The names the file gives them: sourcing it (`. data/dev-credentials.env`) sets them in a shell. */
const VARIABLES = { adminToken: 'ADMIN_TOKEN', demoKey: 'DEMO_KEY' } as const satisfies Record<keyof DevCredentials, string>;

/** The shortest admin token the gateway accepts (as ADMIN_TOKEN's validation says). */
const MIN_ADMIN_TOKEN_LENGTH = 16;

/**
 * In the data directory: the SQLite file's, or `data` (the default database's) with PostgreSQL. None with an
 * in-memory SQLite, whose demo tenant is gone at the next start anyway.
 */
export function devCredentialsPath(databaseUrl: string): string | undefined {
  if (!databaseUrl.startsWith('sqlite:')) return join('data', FILE_NAME);
  const file = databaseUrl.slice('sqlite:'.length);
  return file === ':memory:' ? undefined : join(dirname(file), FILE_NAME);
}

/** The credentials the file keeps; none when there is no file. A token too short to be one is left out. */
export function readDevCredentials(path: string): DevCredentials {
  if (!existsSync(path)) return {};
  const values = new Map<string, string>();
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const assignment = /^\s*([A-Z_]+)=(\S+)\s*$/.exec(line);
    if (assignment) values.set(assignment[1], assignment[2]);
  }
  const adminToken = values.get(VARIABLES.adminToken);
  return {
    adminToken: adminToken && adminToken.length >= MIN_ADMIN_TOKEN_LENGTH ? adminToken : undefined,
    demoKey: values.get(VARIABLES.demoKey),
  };
}

/** Writes the file readable by its owner only, creating the data directory if need be. */
export function writeDevCredentials(path: string, credentials: DevCredentials): void {
  mkdirSync(dirname(path), { recursive: true });
  const assignments = (Object.keys(VARIABLES) as Array<keyof DevCredentials>)
    .filter((name) => credentials[name] !== undefined)
    .map((name) => `${VARIABLES[name]}=${credentials[name]}`);
  const text = [
    "# Tollgate's development credentials (NODE_ENV=development only), kept so that a restart keeps working.",
    `# \`. ${path}\` sets them in your shell. Delete this file for a new admin token; ADMIN_TOKEN, when set, wins.`,
    ...assignments,
    '',
  ].join('\n');
  writeFileSync(path, text, { mode: 0o600 });
  // The mode above applies only to a file that did not exist yet.
  chmodSync(path, 0o600);
}
