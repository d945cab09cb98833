/** Tests live beside the code they specify: app/test, infra/test. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/app', '<rootDir>/infra'],
  testMatch: ['**/test/**/*.test.ts'],
  // tsconfig's isolatedModules makes ts-jest transpile only; type checking is `npm run typecheck`'s job.
  transform: { '^.+\\.ts$': 'ts-jest' },
  testTimeout: 60000,
  maxWorkers: 2,
};
