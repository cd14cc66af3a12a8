import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveAiOptions } from '../../libs/ai/src/ai-module-options';
import { DEFAULT_MODELS } from '../../libs/ai/src/context/default-models';
import { loadCatalogs } from './catalog-files';

const PLANS = 'plans:\n  default: { requestsPerMinute: 10 }\n';

describe(loadCatalogs.name, () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tollgate-catalogs-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const load = (models: string, plans = PLANS) => {
    writeFileSync(join(dir, 'models.yaml'), `models:\n${models}`);
    writeFileSync(join(dir, 'plans.yaml'), plans);
    return loadCatalogs(dir);
  };

  it('should load the shipped config/models.yaml and config/plans.yaml, with every model’s media rule', () => {
    const { models } = loadCatalogs('config');

    expect(models['gpt-4o'].imageTokens).toEqual({ baseTokens: 85, tileTokens: 170 });
    expect(models['gpt-4.1-nano'].imageTokens).toEqual({ patchMultiplier: 2.46 });
  });

  it('should ship the library’s default table in config/models.yaml, so that the gateway prices as the library does', () => {
    expect({ ...loadCatalogs('config').models }).toEqual(DEFAULT_MODELS);
  });

  it('should let the gateway’s models.yaml win for the models it lists, the library’s defaults serving the others', () => {
    const { models } = load('  gpt-4o: { inputPerMillionUsd: 7, outputPerMillionUsd: 21, contextWindow: 64000 }\n');

    const table = resolveAiOptions({ upstream: { apiKey: 'sk-test' }, models }).models;

    expect(table['gpt-4o']).toEqual({ inputPerMillionUsd: 7, outputPerMillionUsd: 21, contextWindow: 64000 });
    expect(table['gpt-4o-mini']).toEqual(DEFAULT_MODELS['gpt-4o-mini']);
  });

  it('should take tiled and patched image rules, audio tokens a second and a file bound', () => {
    const { models } = load(
      '  tiled: { inputPerMillionUsd: 1, outputPerMillionUsd: 2, imageTokens: { baseTokens: 85, tileTokens: 170 }, fileTokens: 5000 }\n' +
        '  patched: { inputPerMillionUsd: 1, outputPerMillionUsd: 2, imageTokens: { patchMultiplier: 1.62, maxPatches: 1536 }, audioTokensPerSecond: 160 }\n',
    );

    expect(models.tiled).toMatchObject({ imageTokens: { baseTokens: 85, tileTokens: 170 }, fileTokens: 5000 });
    expect(models.patched).toMatchObject({ imageTokens: { patchMultiplier: 1.62, maxPatches: 1536 }, audioTokensPerSecond: 160 });
  });

  it.each([
    ['a rule of neither kind', '{ baseTokens: 85 }', /imageTokens: expected/],
    ['a rule of both kinds', '{ baseTokens: 85, tileTokens: 170, patchMultiplier: 2 }', /imageTokens: expected/],
    ['a multiplier of 0', '{ patchMultiplier: 0 }', /imageTokens: expected/],
  ])('should refuse %s for imageTokens', (_, rule, message) => {
    expect(() => load(`  m: { inputPerMillionUsd: 1, outputPerMillionUsd: 2, imageTokens: ${rule} }\n`)).toThrow(message);
  });

  it('should refuse audioTokensPerSecond of 0 and a fractional fileTokens', () => {
    expect(() => load('  m: { inputPerMillionUsd: 1, outputPerMillionUsd: 2, audioTokensPerSecond: 0 }\n')).toThrow(/audioTokensPerSecond/);
    expect(() => load('  m: { inputPerMillionUsd: 1, outputPerMillionUsd: 2, fileTokens: 1.5 }\n')).toThrow(/fileTokens/);
  });

  it('should take a cached input price up to the input price, and refuse a dearer one', () => {
    const { models } = load('  cached: { inputPerMillionUsd: 1, outputPerMillionUsd: 2, cachedInputPerMillionUsd: 0.5 }\n');

    expect(models.cached.cachedInputPerMillionUsd).toBe(0.5);
    expect(() => load('  m: { inputPerMillionUsd: 1, outputPerMillionUsd: 2, cachedInputPerMillionUsd: 1.5 }\n')).toThrow(
      /models\.m\.cachedInputPerMillionUsd: expected a number from 0 to inputPerMillionUsd/,
    );
    expect(() => load('  m: { inputPerMillionUsd: 1, outputPerMillionUsd: 2, cachedInputPerMillionUsd: -1 }\n')).toThrow(/cachedInputPerMillionUsd/);
  });

  it('should take a plan’s defaultCompletionTokens, and refuse 0', () => {
    const model = '  m: { inputPerMillionUsd: 1, outputPerMillionUsd: 2 }\n';

    expect(load(model, 'plans:\n  default: { defaultCompletionTokens: 1024 }\n').plans.default).toEqual({ defaultCompletionTokens: 1024 });
    expect(() => load(model, 'plans:\n  default: { defaultCompletionTokens: 0 }\n')).toThrow(/defaultCompletionTokens: expected a whole number above 0/);
  });

  it('should know no model or plan by a name of Object.prototype, so that a sibling named so is refused', () => {
    const { models, plans } = load('  m: { inputPerMillionUsd: 1, outputPerMillionUsd: 2 }\n');

    expect(models.constructor).toBeUndefined();
    expect(plans.toString).toBeUndefined();
    expect(() => load('  m: { inputPerMillionUsd: 1, outputPerMillionUsd: 2, largerContextModel: constructor }\n')).toThrow(/'constructor' is not a listed model/);
  });
});
