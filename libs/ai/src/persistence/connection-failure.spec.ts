import { QueryFailedError } from 'typeorm';
import { isConnectionFailure } from './connection-failure';

const driverError = (message: string, code?: string) => Object.assign(new Error(message), code === undefined ? {} : { code });
const failedQuery = (message: string, code?: string) => new QueryFailedError('SELECT 1', [], driverError(message, code));

describe('isConnectionFailure', () => {
  it.each([
    ['a refused connection', driverError('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED')],
    ['a reset connection, wrapped by TypeORM', failedQuery('read ECONNRESET', 'ECONNRESET')],
    ['an unknown host', driverError('getaddrinfo ENOTFOUND db.internal', 'ENOTFOUND')],
    ['every address of localhost refused', new AggregateError([driverError('connect ECONNREFUSED ::1:5432', 'ECONNREFUSED')], '')],
    ['a connection lost mid-query', failedQuery('Connection terminated unexpectedly')],
    ['a connect timeout', driverError('Connection terminated due to connection timeout')],
    ['a pool that found no connection in time', driverError('timeout exceeded when trying to connect')],
    ['a client broken by an earlier error', failedQuery('Client has encountered a connection error and is not queryable')],
    ['an administrator shutdown (57P01)', failedQuery('terminating connection due to administrator command', '57P01')],
    ['a server still starting (57P03)', driverError('the database system is starting up', '57P03')],
    ['no connection slot left (53300)', driverError('sorry, too many clients already', '53300')],
    ['a connection exception (08006)', failedQuery('connection failure', '08006')],
  ])('should recognise %s', (_case, error) => {
    expect(isConnectionFailure(error)).toBe(true);
  });

  it.each([
    ['a unique violation (23505)', failedQuery('duplicate key value violates unique constraint "tenants_pkey"', '23505')],
    ['a syntax error (42601)', failedQuery('syntax error at or near "SELEC"', '42601')],
    ['a missing table (42P01)', failedQuery('relation "nowhere" does not exist', '42P01')],
    ['a serialization failure (40001)', failedQuery('could not serialize access due to concurrent update', '40001')],
    ['a bug in the caller', new TypeError("Cannot read properties of undefined (reading 'id')")],
    ['something that is not an error', 'ECONNREFUSED'],
  ])('should not take %s for an unreachable database', (_case, error) => {
    expect(isConnectionFailure(error)).toBe(false);
  });
});
