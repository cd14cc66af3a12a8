// Runs the gateway from its TypeScript sources in a process of its own (for tests that kill it):
// compiles each .ts file with swc as it is required, and maps the workspace packages to their sources.
const fs = require('node:fs');
const Module = require('node:module');
const path = require('node:path');
const { transformSync } = require('@swc/core');

const root = path.resolve(__dirname, '../..');
const aliases = {
  '@tollgate/ai': path.join(root, 'libs/ai/src/index.ts'),
  '@tollgate/ai/tenancy': path.join(root, 'libs/ai/src/tenancy/index.ts'),
  '@tollgate/ai/health': path.join(root, 'libs/ai/src/health/index.ts'),
  '@tollgate/ai/secrets/aws': path.join(root, 'libs/ai/src/secrets/aws-secret.provider.ts'),
  '@tollgate/ai/secrets/azure': path.join(root, 'libs/ai/src/secrets/azure-secret.provider.ts'),
  '@tollgate/simulator': path.join(root, 'libs/simulator/src/index.ts'),
};
const resolveFilename = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  return resolveFilename.call(this, aliases[request] ?? request, ...rest);
};
const swc = {
  jsc: { target: 'es2023', parser: { syntax: 'typescript', decorators: true }, transform: { legacyDecorator: true, decoratorMetadata: true } },
  module: { type: 'commonjs' },
};
require.extensions['.ts'] = (module, filename) => {
  const { code } = transformSync(fs.readFileSync(filename, 'utf8'), { ...swc, filename });
  module._compile(code, filename);
};
require(path.join(root, 'src/main.ts'));
