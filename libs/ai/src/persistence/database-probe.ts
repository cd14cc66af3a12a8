import type { DependencyStatus } from '../health/dependency-status';

/**
 * What the module's core (its metrics, health and shutdown) asks of the Database, which exists only with one:
 * in its own type, so that their declarations name nothing of TypeORM, an optional peer dependency.
 */
export interface DatabaseProbe {
  readonly dialect: 'sqlite' | 'postgres';
  /** Whether the database answered the last query. */
  readonly status: DependencyStatus;
  /** One round trip (`SELECT 1`). */
  ping(): Promise<void>;
  close(): Promise<void>;
}
