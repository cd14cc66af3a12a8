/** Socket-level failures: the database host refused, dropped or never answered the connection. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

// SQLSTATE class 08 is a connection exception; 57P01-03 the server shutting down, crashed or still
// starting; 53300 no connection slot left.
const UNAVAILABLE_SQLSTATE = /^(08[0-9A-Z]{3}|57P0[123]|53300)$/;

// node-postgres and pg-pool say that a connection was lost or timed out in words, without a code.
const LOST_CONNECTION = /connection terminated|timeout exceeded when trying to connect|not queryable/i;

interface DriverError {
  message: string;
  code?: unknown;
  /** TypeORM's QueryFailedError wraps the driver's error. */
  driverError?: unknown;
  /** Node reports every address it tried (IPv6 and IPv4 for `localhost`) in one AggregateError. */
  errors?: unknown;
}

/**
 * Whether a database error means the database could not be reached (as opposed to a statement it
 * refused: a constraint, a syntax error).
 */
export function isConnectionFailure(error: unknown): boolean {
  // Duck-typed: errors from Node's own modules are not `instanceof` a sandbox's Error (Jest, vm).
  if (!isDriverError(error)) return false;
  if (isDriverError(error.driverError) && error.driverError !== error) return isConnectionFailure(error.driverError);
  if (Array.isArray(error.errors) && error.errors.some(isConnectionFailure)) return true;
  const { code } = error;
  if (typeof code === 'string' && (NETWORK_CODES.has(code) || UNAVAILABLE_SQLSTATE.test(code))) return true;
  return LOST_CONNECTION.test(error.message);
}

function isDriverError(value: unknown): value is DriverError {
  return typeof value === 'object' && value !== null && typeof (value as { message?: unknown }).message === 'string';
}
