/** @type {import('jest').Config} */
const swc = [
  '@swc/jest',
  {
    jsc: {
      target: 'es2023',
      parser: { syntax: 'typescript', decorators: true },
      transform: { legacyDecorator: true, decoratorMetadata: true },
    },
  },
];

const shared = {
  transform: { '^.+\\.ts$': swc },
  moduleNameMapper: {
    '^@tollgate/ai$': '<rootDir>/libs/ai/src/index.ts',
    '^@tollgate/ai/tenancy$': '<rootDir>/libs/ai/src/tenancy/index.ts',
    '^@tollgate/ai/health$': '<rootDir>/libs/ai/src/health/index.ts',
    '^@tollgate/ai/secrets/aws$': '<rootDir>/libs/ai/src/secrets/aws-secret.provider.ts',
    '^@tollgate/ai/secrets/azure$': '<rootDir>/libs/ai/src/secrets/azure-secret.provider.ts',
    '^@tollgate/simulator$': '<rootDir>/libs/simulator/src/index.ts',
  },
  testEnvironment: 'node',
};

module.exports = {
  projects: [
    { ...shared, displayName: 'unit', testMatch: ['<rootDir>/libs/*/src/**/*.spec.ts', '<rootDir>/libs/*/test/**/*.spec.ts', '<rootDir>/src/**/*.spec.ts'] },
    {
      ...shared,
      displayName: 'integration',
      testMatch: ['<rootDir>/libs/*/test/integration/**/*.int-spec.ts', '<rootDir>/test/integration/**/*.int-spec.ts'],
    },
    { ...shared, displayName: 'e2e', testMatch: ['<rootDir>/test/**/*.e2e-spec.ts'] },
  ],
  reporters: ['default', '<rootDir>/test/summary-reporter.js'],
};
