import { BackupError } from './aof-quiesce';
import { backupsDir, findLocalBackup, restoreLocalBackup, type LocalBackup } from './local';

/**
 * `npm start -- --restore <backup>`: the backup into the stack's empty data dir, before Redis
 * starts on it (as chat:restoreFrom creates redis-pvc from a snapshot before the pod mounts it).
 */
export function restoreFromArg(
  ref: string,
  o: { stack: string; persistent: boolean; root: string; redisDir: string },
): LocalBackup {
  if (!o.persistent) {
    throw new BackupError(
      `--restore: stack "${o.stack}" keeps Redis in memory only (chat:persistence false): it starts empty, so there is nothing to restore into`,
    );
  }
  const backup = findLocalBackup(ref, backupsDir(o.root, o.stack), o.stack);
  restoreLocalBackup(
    backup,
    o.redisDir,
    `To replace it deliberately: keep it first (npm run backup -- --stack ${o.stack}), remove ${o.redisDir}, then run this again.`,
  );
  return backup;
}
