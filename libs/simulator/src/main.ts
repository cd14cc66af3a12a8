#!/usr/bin/env node
import { startSimulator } from './simulator';

/** `npm run simulator`: SIMULATOR_PORT (default 4010) and SIMULATOR_HOST (default 127.0.0.1). */
async function main(): Promise<void> {
  const port = Number(process.env.SIMULATOR_PORT ?? 4010);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`SIMULATOR_PORT must be a port number, got '${process.env.SIMULATOR_PORT}'`);
  }
  const simulator = await startSimulator({ port, host: process.env.SIMULATOR_HOST ?? '127.0.0.1' });
  console.log(`Tollgate simulator listening on ${simulator.url}`);

  const stop = () => void simulator.close().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
