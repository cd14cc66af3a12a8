import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadUpstreamsFile } from './upstreams-file';

const SECRET_VALUE = 'sk-from-the-environment-0123';

describe(loadUpstreamsFile.name, () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tollgate-upstreams-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const load = (yaml: string, env: Record<string, string> = { OPENAI_KEY: SECRET_VALUE }) => {
    writeFileSync(join(dir, 'upstreams.yaml'), yaml);
    return loadUpstreamsFile(dir, env);
  };
  const errorOf = (yaml: string, env?: Record<string, string>) => {
    try {
      load(yaml, env);
    } catch (error) {
      return (error as Error).message;
    }
    throw new Error('expected the file to be refused');
  };

  it('should be undefined without the file: the one upstream of OPENAI_BASE_URL', () => {
    expect(loadUpstreamsFile(dir, {})).toBeUndefined();
  });

  it('should read the contract of DESIGN.md: upstreams, kinds, keys with their secrets, weights and expectations, and routes', () => {
    const file = load(`
upstreams:
  - name: openai-main
    kind: openai
    baseUrl: https://api.openai.com/v1
    keys:
      - name: project-a
        secret: { provider: env, name: OPENAI_KEY }
        weight: 2
        expect: { organization: org-abc, project: proj_123 }
      - name: project-b
        secret: { provider: file, path: /run/secrets/openai-b }
  - name: azure-eastus
    kind: azure
    baseUrl: https://my-resource.openai.azure.com/openai
    apiVersion: 2024-10-21
    deployments: { gpt-4o: my-gpt4o }
    keys:
      - secret: { provider: azure, vaultUrl: https://vault.example, secretName: azure-openai }
routes:
  gpt-4o: [openai-main, azure-eastus]
`);

    expect(file?.upstreams).toEqual([
      {
        name: 'openai-main',
        kind: 'openai',
        baseURL: 'https://api.openai.com/v1',
        keys: [
          { name: 'project-a', secret: { provider: 'env', apiKey: SECRET_VALUE }, weight: 2, expect: { organization: 'org-abc', project: 'proj_123' } },
          { name: 'project-b', secret: { provider: 'file', path: '/run/secrets/openai-b' } },
        ],
      },
      {
        name: 'azure-eastus',
        kind: 'azure',
        baseURL: 'https://my-resource.openai.azure.com/openai',
        apiVersion: '2024-10-21',
        deployments: { 'gpt-4o': 'my-gpt4o' },
        keys: [{ secret: { provider: 'azure', vaultUrl: 'https://vault.example', secretName: 'azure-openai' } }],
      },
    ]);
    expect(file?.routes).toEqual({ 'gpt-4o': ['openai-main', 'azure-eastus'] });
  });

  it.each([
    ['an unknown provider', 'keys: [{ secret: { provider: vault, name: X } }]', 'upstreams[0] (main).keys[0].secret.provider: expected env, file, aws or azure'],
    ['an unset environment variable', 'keys: [{ secret: { provider: env, name: NOT_SET } }]', 'upstreams[0] (main).keys[0].secret: the environment variable NOT_SET is not set'],
    ['a file secret without its path', 'keys: [{ secret: { provider: file } }]', 'upstreams[0] (main).keys[0].secret.path: required with provider file'],
    ['no keys', 'keys: []', 'upstreams[0] (main).keys: expected at least one key'],
    ['a misspelt field', 'keys: [{ secret: { provider: env, name: OPENAI_KEY }, wieght: 2 }]', 'upstreams[0] (main).keys[0].wieght: not a known field'],
    ['a weight of 0', 'keys: [{ secret: { provider: env, name: OPENAI_KEY }, weight: 0 }]', 'upstreams[0] (main).keys[0].weight: expected a number above 0'],
  ])('should refuse %s, naming the file and the entry', (_case, keys, expected) => {
    const message = errorOf(`upstreams:\n  - name: main\n    baseUrl: https://api.openai.com/v1\n    ${keys}\n`);

    expect(message).toContain(join(dir, 'upstreams.yaml'));
    expect(message).toContain(expected);
    expect(message).not.toContain(SECRET_VALUE);
  });

  it('should refuse two upstreams of one name, and a route to an upstream that does not exist', () => {
    const upstream = (name: string) => `  - name: ${name}\n    baseUrl: https://api.openai.com/v1\n    keys: [{ secret: { provider: env, name: OPENAI_KEY } }]\n`;

    expect(errorOf(`upstreams:\n${upstream('main')}${upstream('main')}`)).toContain("the name 'main' is used twice");
    expect(errorOf(`upstreams:\n${upstream('main')}routes:\n  gpt-4o: [main, backup]\n`)).toContain("routes.gpt-4o: no upstream is named 'backup'");
  });

  it("should refuse Azure's deployments and api-version on another kind of upstream", () => {
    const entry = (kind: string, extra: string) =>
      `upstreams:\n  - name: main\n    kind: ${kind}\n    baseUrl: https://x.example/openai\n    ${extra}\n    keys: [{ secret: { provider: env, name: OPENAI_KEY } }]\n`;

    expect(errorOf(entry('openai', 'deployments: { gpt-4o: d }'))).toContain("deployments and apiVersion are Azure's");
    expect(errorOf(entry('openai-compatible', 'apiVersion: 2024-10-21'))).toContain("deployments and apiVersion are Azure's");
  });
});
