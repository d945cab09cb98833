/**
 * chat:restoreFrom: redis-pvc created from a DigitalOcean volume snapshot through a
 * pre-provisioned VolumeSnapshotContent (Retain) and a VolumeSnapshot; refused on a memory-only
 * stack and on a stack whose redis-pvc already exists.
 */
import { ConfigError, loadConfig } from '../config';
import {
  DO_CSI_DRIVER,
  DO_SNAPSHOT_CLASS,
  restoreRefusal,
  RestoreRefused,
  claimSource,
  snapshotContentObject,
  volumeSnapshotObject,
} from '../restore';
import { createStack } from '../stack';
import { optionsRecorder, previousOutputs, runProgram, T } from './harness';
import { validateK8sObject } from './k8s-schema';

const SNAP = '92b46522-4798-4544-9d33-8b74ea56adb7';
const CONTENT = 'kubernetes:snapshot.storage.k8s.io/v1:VolumeSnapshotContent';
const SNAPSHOT = 'kubernetes:snapshot.storage.k8s.io/v1:VolumeSnapshot';
const SELF = 'organization/chat/stateful';

const run = (stack: string, overrides: Record<string, string | undefined>) =>
  runProgram(stack, () => createStack(loadConfig()) as unknown as Record<string, unknown>, overrides);

afterEach(() => previousOutputs.clear());

describe('chat:restoreFrom on a stateful stack being created', () => {
  it('creates redis-pvc from a VolumeSnapshot bound to a Retain VolumeSnapshotContent holding the snapshot id', async () => {
    const r = await run('stateful', { 'chat:restoreFrom': SNAP });
    const content = r.one(CONTENT).inputs;
    expect(content.metadata.name).toBe('redis-restore-content');
    expect(content.spec).toEqual({
      deletionPolicy: 'Retain',
      driver: 'dobs.csi.digitalocean.com',
      source: { snapshotHandle: SNAP },
      volumeSnapshotClassName: 'do-block-storage',
      volumeSnapshotRef: { name: 'redis-restore', namespace: 'default' },
    });
    const snapshot = r.one(SNAPSHOT).inputs;
    expect(snapshot.metadata.name).toBe('redis-restore');
    expect(snapshot.spec).toEqual({
      volumeSnapshotClassName: 'do-block-storage',
      source: { volumeSnapshotContentName: 'redis-restore-content' },
    });
    const pvc = r.one(T.pvc, 'redis-pvc').inputs;
    expect(pvc.spec.dataSource).toEqual({
      apiGroup: 'snapshot.storage.k8s.io',
      kind: 'VolumeSnapshot',
      name: 'redis-restore',
    });
    expect(r.outputs.restoredFrom).toBe(SNAP);
  });

  it('validates all three against their schemas (the CRDs of csi-digitalocean v4.16.0, and kubernetes-models)', async () => {
    const r = await run('stateful', { 'chat:restoreFrom': SNAP });
    const objects = r.k8sObjects();
    expect(
      objects
        .filter((o) => o.apiVersion === 'snapshot.storage.k8s.io/v1')
        .map((o) => o.kind)
        .sort(),
    ).toEqual(['VolumeSnapshot', 'VolumeSnapshotContent']);
    for (const o of objects) validateK8sObject(o);
  });

  it('reads its own last deployment, and keeps dataSource out of later diffs', async () => {
    const rec = optionsRecorder();
    const r = await runProgram(
      'stateful',
      () => createStack(loadConfig(), { transformations: [rec.transformation] }) as unknown as Record<string, unknown>,
      { 'chat:restoreFrom': SNAP },
    );
    const self = r.one('pulumi:pulumi:StackReference');
    expect(self.inputs.name).toBe(SELF);
    expect(rec.of('redis-pvc').ignoreChanges).toEqual(['spec.dataSource', 'spec.dataSourceRef']);
  });

  it('goes ahead when the last deployment was memory-only (no redis-pvc yet)', async () => {
    previousOutputs.set(SELF, { persistence: 'memory', restoredFrom: null });
    const r = await run('stateful', { 'chat:restoreFrom': SNAP });
    expect(r.one(T.pvc, 'redis-pvc').inputs.spec.dataSource.name).toBe('redis-restore');
  });

  it('goes ahead when redis-pvc was created from this very snapshot (a later pulumi up)', async () => {
    previousOutputs.set(SELF, { persistence: 'aof', restoredFrom: SNAP });
    const r = await run('stateful', { 'chat:restoreFrom': SNAP });
    expect(r.one(T.pvc, 'redis-pvc').inputs.spec.dataSource.name).toBe('redis-restore');
  });
});

describe('chat:restoreFrom refused', () => {
  it('on a memory-only stack: a config error naming the key', () => {
    const raw = new Map([
      ['persistence', 'false'],
      ['restoreFrom', SNAP],
    ]);
    const load = () =>
      loadConfig({
        raw: { get: (k) => raw.get(k), keys: () => [...raw.keys()] },
        stack: 'stateless',
        doToken: () => 'x',
      });
    expect(load).toThrow(ConfigError);
    expect(load).toThrow(/chat:restoreFrom must be set only on a stack with chat:persistence true/);
  });

  it('when it is not a volume snapshot id', () => {
    const raw = new Map([
      ['persistence', 'true'],
      ['restoreFrom', '123456789'],
    ]);
    expect(() =>
      loadConfig({
        raw: { get: (k) => raw.get(k), keys: () => [...raw.keys()] },
        stack: 'stateful',
        doToken: () => 'x',
      }),
    ).toThrow(/chat:restoreFrom must be the id of a DigitalOcean volume snapshot, a UUID .*; got "123456789"/);
  });

  it('on a stack whose redis-pvc exists, saying how to replace it deliberately', () => {
    const why = restoreRefusal(SNAP, { persistence: 'aof', restoredFrom: null }, 'stateful');
    expect(why).toMatch(/already has redis-pvc/);
    expect(why).toMatch(/pulumi config rm chat:restoreFrom/);
    expect(why).toMatch(/npm run backup -- --stack stateful --target cluster/);
    expect(why).toMatch(/pulumi state unprotect --all --yes -s stateful && pulumi config set chat:persistence false/);
    // A claim restored from another snapshot is live history too.
    expect(
      restoreRefusal(SNAP, { persistence: 'aof', restoredFrom: '00000000-0000-4000-8000-000000000000' }, 's'),
    ).toBeDefined();
    expect(restoreRefusal(SNAP, { persistence: 'aof', restoredFrom: SNAP }, 's')).toBeUndefined();
    expect(restoreRefusal(SNAP, {}, 's')).toBeUndefined();
  });

  it("fails the claim's dataSource (so redis-pvc is never sent) when the last deployment had a volume", () => {
    // restoreSource feeds claimSource the stack's last outputs; a throw there fails the
    // claim's registration, and the Redis Deployment that depends on it, with the message.
    expect(() => claimSource(SNAP, { persistence: 'aof', restoredFrom: null }, 'stateful', 'redis-restore')).toThrow(
      RestoreRefused,
    );
    expect(() => claimSource(SNAP, { persistence: 'aof' }, 'stateful', 'redis-restore')).toThrow(
      /already has redis-pvc/,
    );
    expect(claimSource(SNAP, { persistence: 'memory' }, 'stateful', 'redis-restore')).toEqual({
      apiGroup: 'snapshot.storage.k8s.io',
      kind: 'VolumeSnapshot',
      name: 'redis-restore',
    });
  });
});

describe('the snapshot objects and their schemas', () => {
  it('name the driver and class of csi-digitalocean', () => {
    expect(DO_CSI_DRIVER).toBe('dobs.csi.digitalocean.com');
    expect(DO_SNAPSHOT_CLASS).toBe('do-block-storage');
  });

  it('reject what the API server would reject', () => {
    const content = snapshotContentObject(SNAP, 'c', 's', 'default');
    expect(() => validateK8sObject(content)).not.toThrow();
    expect(() => validateK8sObject(volumeSnapshotObject('c', 's'))).not.toThrow();
    // No deletionPolicy (required by the schema).
    const { deletionPolicy: _dropped, ...noPolicy } = content.spec;
    expect(() => validateK8sObject({ ...content, spec: noPolicy })).toThrow(/deletionPolicy/);
    // A policy the schema does not know.
    expect(() => validateK8sObject({ ...content, spec: { ...content.spec, deletionPolicy: 'Keep' } })).toThrow(
      /allowed values/,
    );
    // Both handles (a CEL rule of the CRD).
    expect(() =>
      validateK8sObject({ ...content, spec: { ...content.spec, source: { snapshotHandle: SNAP, volumeHandle: 'v' } } }),
    ).toThrow(/exactly one of volumeHandle and snapshotHandle/);
    // A reference without its namespace (a CEL rule).
    expect(() =>
      validateK8sObject({ ...content, spec: { ...content.spec, volumeSnapshotRef: { name: 's' } } }),
    ).toThrow(/volumeSnapshotRef.name and spec.volumeSnapshotRef.namespace/);
    const snap = volumeSnapshotObject('c', 's');
    expect(() => validateK8sObject({ ...snap, spec: { ...snap.spec, source: {} } })).toThrow(/exactly one of/);
  });
});
