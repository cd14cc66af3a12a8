// What @tollgate/ai costs the app that installs it: the packed tarball installed into fresh projects
// outside the workspace (so nothing is hoisted from it), with its required peers alone and then with
// each optional integration — install time, node_modules size, packages — and how long requiring it
// takes in fresh processes. It prints one markdown table for the README; nothing asserts a figure.
//
//   node bench/package.js
//   BENCH_REQUIRE_RUNS=9 node bench/package.js
'use strict';
const { execFileSync, spawnSync } = require('node:child_process');
const { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } = require('node:fs');
const { tmpdir } = require('node:os');
const path = require('node:path');
const { performance } = require('node:perf_hooks');
const { markdownTable, median } = require('./support');

const root = path.join(__dirname, '..');
const REQUIRE_RUNS = Number(process.env.BENCH_REQUIRE_RUNS ?? 5);
const NPM_INSTALL = ['install', '--no-audit', '--no-fund', '--prefer-offline'];
// NestJS 11 is CommonJS, so require.cache sees every module it loads; NestJS 12's ESM would not be counted.
const NEST = '^11';
const REQUIRED_PEERS = [`@nestjs/common@${NEST}`, `@nestjs/core@${NEST}`, 'reflect-metadata', 'rxjs'];

const SETUPS = [
  { label: '(a) required peers only', extras: [] },
  { label: '(b) + typeorm, better-sqlite3', extras: ['typeorm', 'better-sqlite3'] },
  { label: '(c) + typeorm, pg', extras: ['typeorm', 'pg'] },
  { label: '(d) + ioredis', extras: ['ioredis'] },
  { label: '(e) + bullmq', extras: ['bullmq'] },
  { label: '(f) + @aws-sdk/client-secrets-manager', extras: ['@aws-sdk/client-secrets-manager'] },
  { label: '(g) + @azure/keyvault-secrets, @azure/identity', extras: ['@azure/keyvault-secrets', '@azure/identity'] },
];

/** Runs in a fresh process in the project of (a): the time and the modules each require adds. */
const REQUIRE_PROBE = `
  const { performance } = require('node:perf_hooks');
  const modules = () => Object.keys(require.cache).length;
  require('reflect-metadata');
  const before = { at: performance.now(), modules: modules() };
  require('@nestjs/core');
  const nest = { at: performance.now(), modules: modules() };
  require('@tollgate/ai');
  const ai = { at: performance.now(), modules: modules() };
  console.log(JSON.stringify({
    aiMs: ai.at - nest.at, aiModules: ai.modules - nest.modules,
    bothMs: ai.at - before.at, bothModules: ai.modules - before.modules,
  }));
`;

/** The environment of a user's shell: the npm_* variables of `npm run` would point a nested npm at the workspace. */
function shellEnvironment() {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('npm_')));
}

function run(command, args, cwd) {
  const result = spawnSync(command, args, { cwd, env: shellEnvironment(), encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`\`${command} ${args.join(' ')}\` in ${cwd} failed:\n${result.stdout}${result.stderr}`);
  return result.stdout;
}

/** `npm pack` of @tollgate/ai (its prepack rebuilds it); returns the tarball's path. */
function packLibrary(destination) {
  run('npm', ['pack', '--pack-destination', destination], path.join(root, 'libs/ai'));
  const name = readdirSync(destination).find((file) => file.startsWith('tollgate-ai-') && file.endsWith('.tgz'));
  return path.join(destination, name);
}

/** A fresh project with `packages` installed; returns the install's wall time in seconds. */
function installProject(dir, packages) {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'bench-app', version: '0.0.0', private: true }));
  const started = performance.now();
  run('npm', [...NPM_INSTALL, ...packages], dir);
  return (performance.now() - started) / 1000;
}

function bytesOf(dir) {
  return Number(execFileSync('du', ['-sb', dir], { encoding: 'utf8' }).split('\t')[0]);
}

/** Installed package folders, those nested in other packages' node_modules included. */
function packagesIn(nodeModules) {
  if (!existsSync(nodeModules)) return 0;
  let count = 0;
  for (const entry of readdirSync(nodeModules)) {
    if (entry.startsWith('.')) continue;
    const folders = entry.startsWith('@') ? readdirSync(path.join(nodeModules, entry)).map((name) => path.join(entry, name)) : [entry];
    for (const folder of folders) count += 1 + packagesIn(path.join(nodeModules, folder, 'node_modules'));
  }
  return count;
}

function requireCosts(dir) {
  const runs = Array.from({ length: REQUIRE_RUNS }, () => JSON.parse(execFileSync(process.execPath, ['-e', REQUIRE_PROBE], { cwd: dir, encoding: 'utf8' })));
  const medianOf = (figure) => median(runs.map((result) => result[figure]));
  return { aiMs: medianOf('aiMs'), aiModules: medianOf('aiModules'), bothMs: medianOf('bothMs'), bothModules: medianOf('bothModules') };
}

/** Whether node-gyp built better-sqlite3 here, as it does when its prebuilt binary cannot be downloaded. */
function builtFromSource(dir) {
  return existsSync(path.join(dir, 'node_modules/better-sqlite3/build/Release/obj.target'));
}

function installedVersion(dir, name) {
  return require(path.join(dir, 'node_modules', name, 'package.json')).version;
}

/** One row per setup, each installed into a project of its own. */
function installRows(workDir, librarySpecs) {
  return SETUPS.map((setup, index) => {
    const dir = path.join(workDir, `setup-${index}`);
    const seconds = installProject(dir, [...librarySpecs, ...setup.extras]);
    const nodeModules = path.join(dir, 'node_modules');
    const compiled = builtFromSource(dir) ? ' (better-sqlite3 compiled from source)' : '';
    return {
      label: `${setup.label}: install${compiled}`,
      dir,
      time: `${seconds.toFixed(1)} s`,
      size: `${(bytesOf(nodeModules) / 1e6).toFixed(1)} MB`,
      count: `${packagesIn(nodeModules)} packages`,
    };
  });
}

function requireRows(dir) {
  const costs = requireCosts(dir);
  return [
    { label: "require('@tollgate/ai') after @nestjs/core, in (a)", time: `${costs.aiMs.toFixed(0)} ms`, size: '', count: `${costs.aiModules} modules` },
    { label: "require('@nestjs/core') + require('@tollgate/ai'), in (a)", time: `${costs.bothMs.toFixed(0)} ms`, size: '', count: `${costs.bothModules} modules` },
  ];
}

function printReport(tarball, bareDir, rows) {
  const npmVersion = run('npm', ['--version'], bareDir).trim();
  const packedKb = (statSync(tarball).size / 1e3).toFixed(0);
  console.log(`Node ${process.version}, npm ${npmVersion}, NestJS ${installedVersion(bareDir, '@nestjs/core')}, ${path.basename(tarball)} ${packedKb} kB packed.`);
  console.log("npm's cache was warm (a warm-up install fetched every package first, then --prefer-offline): install times leave the download out.");
  console.log(`Require times: median of ${REQUIRE_RUNS} fresh processes, each after require('reflect-metadata').\n`);
  console.log(markdownTable(rows, [
    ['measure', (row) => row.label],
    ['time', (row) => row.time],
    ['node_modules', (row) => row.size],
    ['packages / modules', (row) => row.count],
  ]));
}

function main() {
  const workDir = mkdtempSync(path.join(tmpdir(), 'tollgate-bench-package-'));
  try {
    const tarball = packLibrary(workDir);
    const librarySpecs = [tarball, ...REQUIRED_PEERS];
    // One install of everything first, so that every measured install reads from npm's cache alike.
    installProject(path.join(workDir, 'warm-up'), [...librarySpecs, ...SETUPS.flatMap((setup) => setup.extras)]);
    const installs = installRows(workDir, librarySpecs);
    const bareDir = installs[0].dir;
    printReport(tarball, bareDir, [...installs, ...requireRows(bareDir)]);
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
}

main();
