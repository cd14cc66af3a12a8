#!/usr/bin/env node
// `npm start`'s prestart: runs `npm run build` only when a source changed since the last build (or an output is
// missing), and says which. tsc -b alone would decide in about a second, but the build also runs vite, which
// always rebuilds, and tsc -b trusts its .tsbuildinfo even when the output it describes was deleted.
'use strict';
const { spawnSync } = require('node:child_process');
const { existsSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');

/** What `npm run build` reads, besides node_modules: a change to any of them (but a spec) means a new build. */
const INPUTS = [
  'src',
  'libs/ai/src',
  'libs/simulator/src',
  'console',
  'package.json',
  'package-lock.json',
  'tsconfig.base.json',
  'tsconfig.build.json',
  'libs/ai/tsconfig.build.json',
  'libs/simulator/tsconfig.build.json',
];

/** What the gateway runs, each with the sources it is built from and the file tsc -b decides by. */
const OUTPUTS = [
  { file: 'dist/main.js', source: 'src', buildInfo: 'tsconfig.build.tsbuildinfo' },
  { file: 'libs/ai/dist/index.js', source: 'libs/ai/src', buildInfo: 'libs/ai/tsconfig.build.tsbuildinfo' },
  { file: 'libs/simulator/dist/index.js', source: 'libs/simulator/src', buildInfo: 'libs/simulator/tsconfig.build.tsbuildinfo' },
  { file: 'console/dist/index.html', source: 'console' },
];

/** Written by this script when a build it ran succeeded, dated when that build began. */
const STAMP = 'dist/.build-stamp';

const NOT_SOURCES = new Set(['node_modules', 'dist']);
const isSpec = (name) => /\.(spec|e2e-spec|int-spec)\.tsx?$/.test(name);

/**
 * Why `root` needs a build, or undefined when it does not: `reason` says it in a line, `staleBuildInfo` lists
 * the .tsbuildinfo files that must go for tsc -b to write a missing output again.
 */
function whyStale(root) {
  const missing = OUTPUTS.filter((output) => existsSync(join(root, output.source)) && !existsSync(join(root, output.file)));
  if (missing.length > 0) {
    return { reason: `${missing[0].file} is missing`, staleBuildInfo: missing.flatMap((output) => (output.buildInfo ? [output.buildInfo] : [])) };
  }
  const builtAt = mtimeOf(join(root, STAMP));
  if (builtAt === undefined) return { reason: 'no build by npm start yet', staleBuildInfo: [] };
  for (const input of INPUTS) {
    const changed = newerThan(root, input, builtAt);
    if (changed) return { reason: `${changed} changed since the last build`, staleBuildInfo: [] };
  }
  return undefined;
}

/** The first file at or under `path` (relative to `root`) modified after `time`. */
function newerThan(root, path, time) {
  const full = join(root, path);
  const stats = statOf(full);
  if (!stats) return undefined;
  if (!stats.isDirectory()) return stats.mtimeMs > time ? path : undefined;
  let holdsOutput = false;
  for (const entry of readdirSync(full, { withFileTypes: true })) {
    if (entry.isDirectory() && NOT_SOURCES.has(entry.name)) holdsOutput = true;
    if (entry.isDirectory() ? NOT_SOURCES.has(entry.name) : isSpec(entry.name)) continue;
    const changed = newerThan(root, join(path, entry.name), time);
    if (changed) return changed;
  }
  // A deleted or renamed file leaves only its directory's time; but a build that creates its dist/ dates that too.
  return !holdsOutput && stats.mtimeMs > time ? path : undefined;
}

function statOf(path) {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

function mtimeOf(path) {
  return statOf(path)?.mtimeMs;
}

function buildIfStale(root) {
  const stale = whyStale(root);
  if (!stale) {
    console.log(`Starting the existing build: no source changed since ${STAMP} (delete it to force a build).`);
    return 0;
  }
  console.log(`Building first (${stale.reason}).`);
  for (const buildInfo of stale.staleBuildInfo) rmSync(join(root, buildInfo), { force: true });
  const startedAt = new Date();
  // npm sets npm_execpath for the scripts it runs: the same npm builds, on any platform.
  const npm = process.env.npm_execpath;
  const build = spawnSync(npm ? process.execPath : 'npm', [...(npm ? [npm] : []), 'run', 'build'], { cwd: root, stdio: 'inherit' });
  if (build.status !== 0) return build.status ?? 1;
  writeFileSync(join(root, STAMP), `${startedAt.toISOString()}\n`);
  // Dated when the build began, so that a file saved while it ran counts as changed next time.
  utimesSync(join(root, STAMP), startedAt, startedAt);
  return 0;
}

module.exports = { whyStale, STAMP };

if (require.main === module) process.exitCode = buildIfStale(join(__dirname, '..'));
