import { ChildProcess, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const ROOT = join(__dirname, '../..');
const TEMPLATES = join(__dirname, 'app');

/** The app with tenancy off, on every platform; the platform's `<platform>-main.ts` becomes its `main.ts`. */
const APP_SOURCES = ['app-environment.ts', 'listen.ts', 'app.module.ts', 'chat.controller.ts'];

/** Added beside it for tenancy on, once TypeORM and its driver are installed; the platform's `<platform>-tenant-main.ts` becomes its `tenant-main.ts`. */
const TENANT_APP_SOURCES = ['tenant-app.module.ts', 'tenant-chat.controller.ts'];

/** A strict user project: `skipLibCheck: false` type-checks the packed `.d.ts` files as well as the app. */
const APP_TSCONFIG = {
  compilerOptions: {
    target: 'ES2023',
    module: 'commonjs',
    strict: true,
    skipLibCheck: false,
    experimentalDecorators: true,
    emitDecoratorMetadata: true,
    esModuleInterop: true,
    rootDir: 'src',
    outDir: 'dist',
    types: ['node'],
  },
  include: ['src'],
};

const NPM_INSTALL = ['install', '--no-audit', '--no-fund', '--prefer-offline'];

export type Platform = 'express' | 'fastify';

export interface Tarballs {
  ai: string;
  simulator: string;
}

export interface CommandResult {
  /** null when the command was killed. */
  code: number | null;
  /** stdout and stderr, interleaved as written. */
  output: string;
}

/**
 * Runs a command to its end and resolves with its exit code and output, whatever the code, so that
 * a test can show what went wrong. Killed after `timeoutMs`, so that no npm outlives the test.
 */
function run(command: string, args: string[], cwd: string, timeoutMs: number): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: shellEnvironment(), stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
    let output = '';
    child.stdout.on('data', (data: Buffer) => (output += data.toString()));
    child.stderr.on('data', (data: Buffer) => (output += data.toString()));
    child.once('error', reject);
    child.once('close', (code, signal) => {
      resolve({ code, output: signal === null ? output : `${output}\n(killed by ${signal} after ${timeoutMs} ms)` });
    });
  });
}

async function runOrThrow(command: string, args: string[], cwd: string, timeoutMs: number): Promise<void> {
  const { code, output } = await run(command, args, cwd, timeoutMs);
  if (code !== 0) throw new Error(`\`${command} ${args.join(' ')}\` in ${cwd} exited with ${code}:\n${output}`);
}

/**
 * The environment of a user's shell: the variables npm sets for the script that runs jest
 * (npm_config_local_prefix among them) would point a nested npm at the workspace.
 */
function shellEnvironment(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('npm_')));
}

/** `npm pack` of both packages (each rebuilds itself in `prepack`) into `destination`. */
export async function packPackages(destination: string, timeoutMs: number): Promise<Tarballs> {
  mkdirSync(destination, { recursive: true });
  const pack = ['pack', '--pack-destination', destination];
  await Promise.all([
    runOrThrow('npm', pack, join(ROOT, 'libs/ai'), timeoutMs),
    runOrThrow('npm', pack, join(ROOT, 'libs/simulator'), timeoutMs),
  ]);
  return { ai: tarballIn(destination, 'tollgate-ai-'), simulator: tarballIn(destination, 'tollgate-simulator-') };
}

function tarballIn(folder: string, prefix: string): string {
  const name = readdirSync(folder).find((file) => file.startsWith(prefix) && file.endsWith('.tgz'));
  if (name === undefined) throw new Error(`npm pack wrote no ${prefix}*.tgz into ${folder}`);
  return join(folder, name);
}

/** An empty project in `dir` with `packages` installed as a user installs them (`npm install a b …`). */
export async function createProject(dir: string, packages: string[], timeoutMs: number): Promise<void> {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'packed-app', version: '0.0.0', private: true }, null, 2));
  await installPackages(dir, packages, timeoutMs);
}

export function installPackages(dir: string, packages: string[], timeoutMs: number): Promise<void> {
  return runOrThrow('npm', [...NPM_INSTALL, ...packages], dir, timeoutMs);
}

/** Writes the template app for `platform`, with tenancy off, and its tsconfig into the project. */
export function writeAppSources(dir: string, platform: Platform): void {
  const src = join(dir, 'src');
  mkdirSync(src, { recursive: true });
  for (const file of APP_SOURCES) copyFileSync(join(TEMPLATES, file), join(src, file));
  copyFileSync(join(TEMPLATES, `${platform}-main.ts`), join(src, 'main.ts'));
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify(APP_TSCONFIG, null, 2));
}

/** Adds the tenancy-on app (entry point `tenant-main`) to a project that has the tenancy-off one. */
export function writeTenantAppSources(dir: string, platform: Platform): void {
  for (const file of TENANT_APP_SOURCES) copyFileSync(join(TEMPLATES, file), join(dir, 'src', file));
  copyFileSync(join(TEMPLATES, `${platform}-tenant-main.ts`), join(dir, 'src', 'tenant-main.ts'));
}

/** The project's own tsc; it writes dist/ even when it reports errors, so the app can run all the same. */
export function compileApp(dir: string, timeoutMs: number): Promise<CommandResult> {
  return run(join(dir, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.json'], dir, timeoutMs);
}

export type SimulatorPackage = typeof import('@tollgate/simulator');

/** The packed simulator, required from the project's node_modules by Node itself (not through jest's module map). */
export function packedSimulator(dir: string): SimulatorPackage {
  return createRequire(join(dir, 'package.json'))('@tollgate/simulator') as SimulatorPackage;
}

export interface RunningApp {
  /** e.g. http://127.0.0.1:41234 */
  url: string;
  /** Everything the app wrote, stdout and stderr. */
  output(): string;
  /** SIGTERM, then SIGKILL if it has not exited within a few seconds. */
  stop(): Promise<void>;
}

const LISTENING = /App listening on (http:\/\/\S+)/;
const STOP_GRACE_MS = 5_000;

export type EntryPoint = 'main' | 'tenant-main';

/** `node dist/<entry>.js` in a process of its own, on an ephemeral port; resolves once it listens. */
export function startApp(dir: string, entry: EntryPoint, env: Record<string, string>, timeoutMs = 30_000): Promise<RunningApp> {
  const child = spawn(process.execPath, [`dist/${entry}.js`], {
    cwd: dir,
    env: { PATH: process.env.PATH, PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`the app in ${dir} did not start in ${timeoutMs} ms:\n${output}`)), timeoutMs);
    const fail = (error: Error) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(error);
    };
    const exitedEarly = (code: number | null) => fail(new Error(`the app in ${dir} exited with ${code} before it listened:\n${output}`));
    const collect = (data: Buffer) => {
      const wasListening = LISTENING.test(output);
      output += data.toString();
      const listening = LISTENING.exec(output);
      if (wasListening || !listening) return;
      clearTimeout(timer);
      child.off('close', exitedEarly);
      resolve({ url: listening[1], output: () => output, stop: () => stopped(child) });
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.once('close', exitedEarly);
  });
}

function stopped(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
