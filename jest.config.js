/** Tests live beside the code they specify: app/test, infra/test. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/app', '<rootDir>/infra'],
  testMatch: ['**/test/**/*.test.ts'],
  // Type checking is `npm run typecheck`'s job; ts-jest only transpiles, which keeps runs fast.
  transform: { '^.+\\.ts$': ['ts-jest', { isolatedModules: true }] },
  testTimeout: 60000,
  maxWorkers: 2,
};
