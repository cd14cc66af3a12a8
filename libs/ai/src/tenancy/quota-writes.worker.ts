// SqliteWriter's worker thread for QuotaRepository: the hot path's batch writes, off the event loop.
import { serveWrites, workerDatabase } from '../persistence/sqlite-worker-database';
import { LeasedReservation, LeaseTopUp, QuotaRepository, Settlement } from './quota.repository';

const database = workerDatabase();
const quota = new QuotaRepository(database);

serveWrites(database, {
  topUpLease: (topUp: LeaseTopUp) => quota.topUpOutcome(topUp),
  commitReservations: async (items: LeasedReservation[]) => [...(await quota.writeReservations(items))],
  settleAll: (settlements: Settlement[]) => quota.writeSettlements(settlements),
});
