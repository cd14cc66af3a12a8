import type { UpstreamOptions } from '@tollgate/ai';

const UPSTREAM_KEY = 'sk-test';

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: the test that starts this app sets it.`);
  return value;
}

/** The simulator the test started, as the app's upstream. */
export function upstreamFromEnv(): UpstreamOptions {
  return { baseURL: required('UPSTREAM_URL'), apiKey: UPSTREAM_KEY };
}

export function databaseUrlFromEnv(): string {
  return required('DATABASE_URL');
}
