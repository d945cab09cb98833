// ESLint for the whole repository, run by `npm run lint` (and so by `npm test` and CI):
//   eslint --config .ci/eslint.config.mjs
// It lives here because the root's file list is fixed by the design. ESLint resolves a
// config given with --config against the current directory, not the file's; `basePath`
// below anchors every pattern at the repository root wherever eslint is started.
// Formatting is Prettier's job (`npm run format`); eslint-config-prettier turns off
// the rules that would argue with it.
import { fileURLToPath } from 'node:url';
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import prettier from 'eslint-config-prettier';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const root = fileURLToPath(new URL('..', import.meta.url));
// A `_` name marks a parameter or caught error that the code ignores on purpose; a rest
// sibling (`const { dropped, ...kept } = x`) is how a key is left out.
const UNUSED = { argsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', ignoreRestSiblings: true };

export default defineConfig(
  { basePath: root, ignores: ['dist/**', 'node_modules/**', '.local/**', '.pulumi/**'] },
  // A disable comment that no longer disables anything is an error, so none outlives its reason.
  { linterOptions: { reportUnusedDisableDirectives: 'error' } },
  {
    basePath: root,
    files: ['**/*.ts'],
    extends: [js.configs.recommended, tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      // The root tsconfig covers infra/ and app/ (tests and benchmarks included): one program.
      parserOptions: { project: './tsconfig.json', tsconfigRootDir: root },
    },
    rules: { '@typescript-eslint/no-unused-vars': ['error', UNUSED] },
  },
  {
    // Tests walk untyped values on purpose (the inputs Pulumi's mocks record, JSON bodies)
    // and `expect` checks what they find at run time, so `any` is allowed there.
    // typescript-eslint's own configuration turns the no-unsafe-* rules off for its tests
    // likewise (eslint.config.mjs, "test file specific configuration"). Product code keeps them.
    basePath: root,
    files: ['**/test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      // Test doubles implement async interfaces (a Kubernetes or DigitalOcean API) with canned answers.
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    // Node scripts without TypeScript: the test pre-step, the image's helpers, this file.
    basePath: root,
    files: ['**/*.cjs', '**/*.mjs'],
    extends: [js.configs.recommended],
    languageOptions: { globals: globals.node },
    rules: { 'no-unused-vars': ['error', UNUSED] },
  },
  {
    basePath: root,
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs' },
  },
  {
    // The page: ES modules loaded by the browser, no build step (CSP 'self').
    basePath: root,
    files: ['app/public/**/*.js'],
    extends: [js.configs.recommended],
    languageOptions: { sourceType: 'module', globals: globals.browser },
    rules: { 'no-unused-vars': ['error', UNUSED] },
  },
  prettier,
);
