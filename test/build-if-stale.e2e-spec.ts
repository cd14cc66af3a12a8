import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

// scripts/ is plain Node (prestart runs before any build): the part used here.
const { whyStale, STAMP } = require('../scripts/build-if-stale') as {
  whyStale(root: string): { reason: string; staleBuildInfo: string[] } | undefined;
  STAMP: string;
};

/** `npm start`'s prestart decides from file times alone: a tree of files dated as each case needs. */
describe('scripts/build-if-stale.js', () => {
  let root: string;
  const BUILT_AT = new Date('2030-01-01T12:00:00Z');
  const BEFORE = new Date('2030-01-01T11:00:00Z');
  const AFTER = new Date('2030-01-01T13:00:00Z');

  const file = (path: string, time = BEFORE) => {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), '');
    utimesSync(join(root, path), time, time);
    // A new file dates its directory too: date the directories as the case says.
    for (let dir = dirname(path); dir !== '.'; dir = dirname(dir)) utimesSync(join(root, dir), time, time);
  };
  const built = () => {
    for (const output of ['dist/main.js', 'libs/ai/dist/index.js', 'libs/simulator/dist/index.js', 'console/dist/index.html']) file(output, BUILT_AT);
    file(STAMP, BUILT_AT);
  };

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'tollgate-prestart-'));
    for (const source of ['src/main.ts', 'src/main.spec.ts', 'libs/ai/src/index.ts', 'libs/simulator/src/index.ts', 'console/src/app.tsx', 'package.json']) file(source);
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('should start the existing build when no source changed since it', () => {
    built();

    expect(whyStale(root)).toBeUndefined();
  });

  it('should build when a source changed since the last build, naming it', () => {
    built();
    file('libs/ai/src/index.ts', AFTER);

    expect(whyStale(root)).toEqual({ reason: 'libs/ai/src/index.ts changed since the last build', staleBuildInfo: [] });
  });

  it('should build when a source was deleted since the last build', () => {
    built();
    file('src/old.ts');
    rmSync(join(root, 'src/old.ts'));
    utimesSync(join(root, 'src'), AFTER, AFTER);

    expect(whyStale(root)?.reason).toBe('src changed since the last build');
  });

  it('should not build for a changed spec, which the build leaves out', () => {
    built();
    file('src/main.spec.ts', AFTER);
    utimesSync(join(root, 'src'), BEFORE, BEFORE);

    expect(whyStale(root)).toBeUndefined();
  });

  it('should build before the first start', () => {
    expect(whyStale(root)).toEqual({ reason: 'dist/main.js is missing', staleBuildInfo: ['tsconfig.build.tsbuildinfo', 'libs/ai/tsconfig.build.tsbuildinfo', 'libs/simulator/tsconfig.build.tsbuildinfo'] });
  });

  it('should build a deleted output again, with the .tsbuildinfo that would call it up to date removed first', () => {
    built();
    rmSync(join(root, 'libs/ai/dist'), { recursive: true });

    expect(whyStale(root)).toEqual({ reason: 'libs/ai/dist/index.js is missing', staleBuildInfo: ['libs/ai/tsconfig.build.tsbuildinfo'] });
  });

  it('should build once after a build it did not run itself', () => {
    built();
    rmSync(join(root, STAMP));

    expect(whyStale(root)?.reason).toBe('no build by npm start yet');
  });
});
