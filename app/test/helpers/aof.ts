import fs from 'node:fs';
import path from 'node:path';

/**
 * Everything in a Redis data dir's append-only files. With appendfsync everysec Redis may
 * hold a write back while an fsync is slow (a busy disk), so a test that pins "what reached
 * the AOF comes back after a SIGKILL" first waits until it has.
 */
export function aofText(redisDir: string): string {
  const dir = path.join(redisDir, 'appendonlydir');
  if (!fs.existsSync(dir)) return '';
  return fs
    .readdirSync(dir)
    .map((f) => fs.readFileSync(path.join(dir, f), 'utf8'))
    .join('');
}
