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

const MULTI = Buffer.from('*1\r\n$5\r\nMULTI\r\n');

/**
 * What a power loss does to an AOF whose last writes were acknowledged but not yet on the
 * disk (appendfsync everysec): the file ends before them. Cuts the newest incremental AOF
 * of a stopped Redis just before its last `count` transactions (every append is one: Redis
 * writes a script's effects as MULTI … EXEC). Returns how many bytes were cut.
 */
export function loseLastWrites(redisDir: string, count = 1): number {
  const dir = path.join(redisDir, 'appendonlydir');
  const incr = fs
    .readdirSync(dir)
    .filter((f) => /\.incr\.aof$/.test(f))
    .sort((a, b) => Number(/\.(\d+)\.incr\.aof$/.exec(a)![1]) - Number(/\.(\d+)\.incr\.aof$/.exec(b)![1]))
    .pop();
  if (!incr) throw new Error(`no incremental AOF in ${dir}`);
  const file = path.join(dir, incr);
  const data = fs.readFileSync(file);
  let at = data.length;
  for (let i = 0; i < count; i++) {
    at = data.lastIndexOf(MULTI, at - 1);
    if (at < 0) throw new Error(`${file} holds fewer than ${count} transactions`);
  }
  fs.truncateSync(file, at);
  return data.length - at;
}
