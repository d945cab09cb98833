/** The volume-loss verdict (a decision table) and its arguments. */
import { UsageError } from '../cli/args';
import { parseArgs } from '../experiment/args';
import { summarizeVolumeLoss, volumeLossVerdict, type VolumeLossCycle } from '../experiment/volume-loss';

const cycle = (over: Partial<VolumeLossCycle> = {}): VolumeLossCycle => ({
  cycle: 1,
  backup: 'b1',
  ackedBeforeBackup: 20,
  ackedAfterBackup: 20,
  survived: 20,
  lostBeforeBackup: 0,
  lostAfterBackup: 20,
  redisRecoveryMs: 200,
  appRecoveryMs: 300,
  aofLoaded: true,
  ...over,
});

describe('volume-loss verdict', () => {
  it.each([
    ['everything from before the backup back, everything after gone', cycle(), true, /the backup held: all 20/],
    [
      'one message from before the backup missing',
      cycle({ lostBeforeBackup: 1, survived: 19 }),
      false,
      /1 of 20 messages acknowledged before backup b1 are missing/,
    ],
    [
      'the restored Redis did not load the AOF',
      cycle({ aofLoaded: false }),
      false,
      /did not log "DB loaded from append only file"/,
    ],
    [
      'messages from after the backup still there (no loss happened)',
      cycle({ lostAfterBackup: 0, survived: 40 }),
      false,
      /written after the backup are still there/,
    ],
    [
      'nothing acknowledged before the backup',
      cycle({ ackedBeforeBackup: 0, survived: 0 }),
      false,
      /nothing was acknowledged before the backup/,
    ],
  ])('%s', (_name, c, ok, reason) => {
    const v = volumeLossVerdict([c]);
    expect(v.ok).toBe(ok);
    expect(v.reason).toMatch(reason);
  });

  it('no cycle: not a pass', () => {
    expect(volumeLossVerdict([]).ok).toBe(false);
  });

  it('the --json line totals the cycles', () => {
    const s = summarizeVolumeLoss('stateful', [cycle(), cycle({ cycle: 2, redisRecoveryMs: 400 })], {
      ok: true,
      reason: 'r',
    });
    expect(s).toMatchObject({
      fault: 'volume-loss',
      cycles: 2,
      ackedBeforeBackup: 40,
      ackedAfterBackup: 40,
      survived: 40,
      lostBeforeBackup: 0,
      lostAfterBackup: 40,
      redisRecoveryMs: 300,
    });
  });
});

describe('--fault', () => {
  it('volume-loss on the local stateful stack', () => {
    expect(parseArgs(['--stack', 'stateful', '--fault', 'volume-loss']).fault).toBe('volume-loss');
  });
  it.each([
    [['--stack', 'stateless', '--fault', 'volume-loss'], /applies only to --stack stateful/],
    [['--stack', 'stateful', '--target', 'cluster', '--fault', 'volume-loss'], /--target local only/],
    [['--stack', 'stateful', '--fault', 'volume-loss', '--load'], /--load does not apply/],
    [['--stack', 'stateful', '--fault', 'disk-full'], /--fault must be one of volume-loss/],
  ])('%j is refused', (argv, message) => {
    expect(() => parseArgs(argv)).toThrow(UsageError);
    expect(() => parseArgs(argv)).toThrow(message);
  });
});
