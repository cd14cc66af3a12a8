import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { startGatewayWithSimulator } from './support/gateway-harness';

/** docker-compose.yml's healthcheck of the gateway, run as Docker would run it, against a gateway on another port. */
describe("docker-compose's gateway healthcheck", () => {
  const [, command, ...args] = parse(readFileSync(join(__dirname, '..', 'docker-compose.yml'), 'utf8')).services.gateway.healthcheck.test as string[];
  /** The command's exit status; asynchronous, since the gateway answering it runs in this process. */
  const check = (url: string) =>
    new Promise<number | null>((resolve) => {
      const child = spawn(command === 'node' ? process.execPath : command, args.map((arg) => arg.replace('http://127.0.0.1:3000', url)), { timeout: 10_000 });
      child.once('exit', (code) => resolve(code));
    });

  it('should pass while the gateway is ready, and fail once it is gone', async () => {
    const gateway = await startGatewayWithSimulator();
    try {
      expect(await check(gateway.url)).toBe(0);
    } finally {
      await gateway.close();
    }

    expect(await check(gateway.url)).toBe(1);
  }, 30_000);
});
