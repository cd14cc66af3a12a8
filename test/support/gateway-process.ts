import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { Environment } from '../../src/app.module';

export interface GatewayProcess {
  url: string;
  /** Everything the process wrote, stdout and stderr. */
  output(): string;
  /** SIGKILL: no shutdown hook, no drain, nothing written after this. */
  kill(): Promise<void>;
}

const STARTED = /Gateway listening on (http:\/\/[^\s"\\]+)/;

/** Starts the gateway as `npm start` would, in a process of its own, on an ephemeral port. */
export function startGatewayProcess(env: Environment, timeoutMs = 60_000): Promise<GatewayProcess> {
  const child = spawn(process.execPath, [join(__dirname, 'run-gateway.js')], {
    env: { PATH: process.env.PATH, NODE_ENV: 'test', PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`the gateway did not start in ${timeoutMs} ms:\n${output}`)), timeoutMs);
    const fail = (error: Error) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(error);
    };
    const onData = (data: Buffer) => {
      output += data.toString();
      const started = STARTED.exec(output);
      if (!started) return;
      clearTimeout(timer);
      resolve({ url: started[1].replace('0.0.0.0', '127.0.0.1'), output: () => output, kill: () => killed(child) });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => fail(new Error(`the gateway exited with ${code} before it started:\n${output}`)));
  });
}

function killed(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}
