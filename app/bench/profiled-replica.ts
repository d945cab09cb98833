/**
 * A replica program (BENCH_PROFILE_MAIN: the service's dist/app/src/main.js or the
 * baseline server) under V8's sampling profiler,
 * for `npm run bench -- --profile`. `node --cpu-prof` is not allowed in NODE_OPTIONS
 * and the local stack's cluster primary starts workers with its own execArgv, so the
 * profiler is driven from inside instead: SIGUSR2 starts it, the next SIGUSR2 stops it
 * and writes <BENCH_PROFILE_DIR>/replica.<pid>.cpuprofile (the same format
 * `--cpu-prof` writes; Chrome DevTools opens it). The benchmark toggles it around the
 * POST runs so the profile shows what POST load costs, not start-up.
 */
import fs from 'node:fs';
import { Session } from 'node:inspector';
import path from 'node:path';

const dir = process.env.BENCH_PROFILE_DIR;
if (!dir) {
  process.stderr.write('profiled-replica: BENCH_PROFILE_DIR is not set\n');
  process.exit(2);
}
const session = new Session();
session.connect();
let profiling = false;

process.on('SIGUSR2', () => {
  if (!profiling) {
    profiling = true;
    session.post('Profiler.enable', () => session.post('Profiler.start'));
    return;
  }
  profiling = false;
  session.post('Profiler.stop', (err, result) => {
    if (err) {
      process.stderr.write(`profiled-replica: ${err.message}\n`);
      return;
    }
    const file = path.join(dir, `replica.${process.pid}.cpuprofile`);
    fs.writeFileSync(`${file}.tmp`, JSON.stringify(result.profile));
    fs.renameSync(`${file}.tmp`, file);
  });
});

const main = process.env.BENCH_PROFILE_MAIN;
if (!main) {
  process.stderr.write('profiled-replica: BENCH_PROFILE_MAIN is not set\n');
  process.exit(2);
}
require(main);
