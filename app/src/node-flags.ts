/**
 * Node flags every replica runs with: the image's CMD, `npm run serve` and the local
 * stack's workers (a test keeps the three in step).
 *
 * - A smaller young generation (V8's default semi-space grows to 16 MB).
 * - An old-generation limit that fits the pod's 256 Mi memory limit (infra/chat-app.ts;
 *   a test keeps them in step). Without one V8 sizes the heap from the machine's memory
 *   and, while collection is cheap, lets the old generation grow to several times what is
 *   live between full collections: a busy replica peaked at 150 MB. With a limit this
 *   small V8 collects sooner: 97 MB, at no measurable cost in throughput (`npm run bench`).
 */
export const MAX_OLD_SPACE_MB = 160;
export const SERVICE_NODE_FLAGS: readonly string[] = [
  '--max-semi-space-size=8',
  `--max-old-space-size=${MAX_OLD_SPACE_MB}`,
];
