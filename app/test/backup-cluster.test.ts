/**
 * `npm run backup -- --target cluster` against a stub of the Kubernetes API and a stub of the
 * DigitalOcean API: the Redis pod answers redis-cli through exec as Redis would, the snapshot
 * controller marks an imported VolumeSnapshot ready (or never does), DigitalOcean lists the
 * cluster's associated resources.
 */
import { BackupError, parseInfo } from '../backup/aof-quiesce';
import {
  BACKUP_TAG,
  ClusterBackup,
  listClusterBackups,
  snapshotName,
  type BackupKube,
  type DigitalOceanApi,
  type DoSnapshot,
  type SnapshotStatus,
} from '../backup/cluster';
import type { PodInfo } from '../experiment/cluster-target';
import { validateK8sObject } from '../../infra/test/k8s-schema';

const VOLUME_ID = 'ba49449a-7435-11ea-b89e-0a58ac14480f';
const SNAP_ID = 'edb0478d-7436-11ea-86e6-0a58ac144b91';
const NOW = new Date('2026-03-04T05:06:07.890Z');

const pod = (name: string, ready: boolean): PodInfo => ({
  name,
  uid: `${name}-uid`,
  ready,
  phase: 'Running',
  terminating: false,
  containers: ['redis'],
});

/** A Redis pod's redis-cli, a claim on a DigitalOcean volume, and a snapshot controller. */
class StubCluster {
  calls: string[] = [];
  created: object[] = [];
  pods = [pod('redis-deployment-1', true)];
  driver = 'dobs.csi.digitalocean.com';
  claimExists = true;
  /** After how many reads the imported VolumeSnapshot is ready; Infinity = never. */
  readyAfterReads = 2;
  snapshotError?: string;
  private reads = 0;
  percentage = '100';
  aofEnabled = '1';
  rewrites = 4;
  rewriting = 0;
  bgrewriteStatus = 'ok';

  info(): string {
    // A rewrite runs for two INFO calls, then is done.
    if (this.rewriting > 0 && --this.rewriting === 0) this.rewrites++;
    return [
      '# Persistence',
      `aof_enabled:${this.aofEnabled}`,
      `aof_rewrite_in_progress:${this.rewriting > 0 ? 1 : 0}`,
      'aof_rewrite_scheduled:0',
      `aof_last_bgrewrite_status:${this.bgrewriteStatus}`,
      `aof_rewrites:${this.rewrites}`,
      'aof_last_write_status:ok',
      '',
    ].join('\r\n');
  }

  readonly kube: BackupKube = {
    listPods: async (ns, selector) => {
      this.calls.push(`list ${ns} ${selector}`);
      return this.pods;
    },
    exec: async (_ns, podName, container, command) => {
      expect(command.slice(0, 3)).toEqual(['redis-cli', '-p', '6379']);
      const args = command.slice(3);
      this.calls.push(`exec ${podName}/${container}: ${args.join(' ')}`);
      const [cmd, sub, name, value] = args;
      if (cmd === 'INFO') return this.info();
      if (cmd === 'CONFIG' && sub === 'GET') return `${name}\n${this.percentage}\n`;
      if (cmd === 'CONFIG' && sub === 'SET') {
        this.percentage = value;
        return 'OK\n';
      }
      if (cmd === 'BGREWRITEAOF') {
        this.rewriting = 2;
        return 'Background append only file rewriting started\n';
      }
      throw new Error(`unexpected redis-cli ${args.join(' ')}`);
    },
    readClaim: async (ns, name) => {
      this.calls.push(`read claim ${ns}/${name}`);
      return this.claimExists ? { volumeName: 'pvc-123', phase: 'Bound', capacity: '1Gi' } : undefined;
    },
    readVolume: async (name) => {
      this.calls.push(`read volume ${name}`);
      return { driver: this.driver, volumeHandle: VOLUME_ID };
    },
    createSnapshotContent: async (body) => {
      this.calls.push('create VolumeSnapshotContent');
      this.created.push(body);
    },
    createVolumeSnapshot: async (ns, body) => {
      this.calls.push(`create VolumeSnapshot in ${ns}`);
      this.created.push(body);
    },
    readVolumeSnapshot: async (): Promise<SnapshotStatus> => {
      this.reads++;
      return { readyToUse: this.reads >= this.readyAfterReads, error: this.snapshotError };
    },
  };
}

class StubDigitalOcean {
  calls: string[] = [];
  associated: string[] = ['0f0f0f0f-0000-4000-8000-000000000000'];
  /** The rewrite must have finished, and rewrites must be paused, when the snapshot is taken. */
  atSnapshot?: { percentage: string; rewrites: number };
  snapshots: DoSnapshot[] = [];
  constructor(private readonly cluster: StubCluster) {}
  readonly api: DigitalOceanApi = {
    snapshotVolume: async (volumeId, name, tags) => {
      this.calls.push(`POST /v2/volumes/${volumeId}/snapshots ${name} [${tags.join(',')}]`);
      this.atSnapshot = { percentage: this.cluster.percentage, rewrites: this.cluster.rewrites };
      const s = { id: SNAP_ID, name, createdAt: '2026-03-04T05:06:09Z', sizeGigabytes: 0.02, minDiskSize: 1, tags };
      this.snapshots.push(s);
      return s;
    },
    listVolumeSnapshots: async () => this.snapshots,
    clusterId: async (name) => (name === 'chat-stateful' ? 'cluster-uuid' : undefined),
    associatedSnapshotIds: async (id) => {
      this.calls.push(`GET /v2/kubernetes/clusters/${id}/destroy_with_associated_resources`);
      return this.associated;
    },
  };
}

function setup(over: Partial<ConstructorParameters<typeof ClusterBackup>[0]> = {}) {
  const cluster = new StubCluster();
  const digitalOcean = new StubDigitalOcean(cluster);
  const backup = () =>
    new ClusterBackup({
      kube: cluster.kube,
      doApi: digitalOcean.api,
      instance: 'chat-stateful',
      clusterName: 'chat-stateful',
      pollMs: 5,
      timeoutMs: 2000,
      now: () => NOW,
      ...over,
    });
  return { cluster, digitalOcean, backup };
}

describe('npm run backup --target cluster (stub Kubernetes and DigitalOcean APIs)', () => {
  it('snapshots redis-pvc’s volume after a finished rewrite, imports it as a ready Retain VolumeSnapshot, and reports destroy keeps it', async () => {
    const { cluster, digitalOcean, backup } = setup();
    const r = await backup().take();

    expect(r.snapshot.id).toBe(SNAP_ID);
    expect(r.snapshot.name).toBe('chat-stateful-redis-20260304-050607');
    expect(r.destroy).toBe('kept');
    expect(r.volumeSnapshot).toBe('chat-stateful-redis-20260304-050607');
    // Taken with rewrites paused, after our rewrite (aof_rewrites 4 -> 5) finished.
    expect(digitalOcean.atSnapshot).toEqual({ percentage: '0', rewrites: 5 });
    // And the old setting is back afterwards.
    expect(cluster.percentage).toBe('100');
    expect(digitalOcean.calls[0]).toBe(
      `POST /v2/volumes/${VOLUME_ID}/snapshots chat-stateful-redis-20260304-050607 [${BACKUP_TAG},doks-chat:chat-stateful]`,
    );
    const redisCli = cluster.calls.filter((c) => c.startsWith('exec')).map((c) => c.replace(/^exec [^:]+: /, ''));
    expect(redisCli[0]).toBe('INFO persistence');
    expect(redisCli.slice(1, 3)).toEqual([
      'CONFIG GET auto-aof-rewrite-percentage',
      'CONFIG SET auto-aof-rewrite-percentage 0',
    ]);
    expect(redisCli).toContain('BGREWRITEAOF');
    expect(redisCli[redisCli.length - 1]).toBe('CONFIG SET auto-aof-rewrite-percentage 100');

    // The imported objects: the snapshot by its id, Retain, csi-digitalocean's driver; valid per the CRDs.
    const [content, snapshot] = cluster.created as any[];
    expect(content.spec).toMatchObject({
      deletionPolicy: 'Retain',
      driver: 'dobs.csi.digitalocean.com',
      source: { snapshotHandle: SNAP_ID },
      volumeSnapshotRef: { name: r.volumeSnapshot, namespace: 'default' },
    });
    expect(snapshot.spec.source).toEqual({ volumeSnapshotContentName: r.volumeSnapshot });
    validateK8sObject(content);
    validateK8sObject(snapshot);
  });

  it('a snapshot that never becomes ready: a clear error within the stated time, not a hang', async () => {
    const { cluster, backup } = setup({ timeoutMs: 300 });
    cluster.readyAfterReads = Infinity;
    cluster.snapshotError = 'Failed to check and update snapshot content: snapshot not found';
    const began = Date.now();
    const err = await backup()
      .take()
      .catch((e: unknown) => e);
    const took = Date.now() - began;
    expect(err).toBeInstanceOf(BackupError);
    expect((err as Error).message).toMatch(
      /VolumeSnapshot chat-stateful-redis-20260304-050607 did not become ready within 0.3 s \(readyToUse false, error: Failed to check and update snapshot content: snapshot not found\)/,
    );
    expect((err as Error).message).toContain(`The DigitalOcean snapshot ${SNAP_ID} was taken and is kept`);
    expect((err as Error).message).toContain('kubectl describe volumesnapshot');
    // The rewrite polls share the budget; the wait itself is bounded by timeoutMs.
    expect(took).toBeLessThan(1500);
    expect(cluster.percentage).toBe('100');
  });

  it('refuses to call it kept when DigitalOcean lists the snapshot among what destroying the cluster deletes', async () => {
    const { digitalOcean, backup } = setup();
    digitalOcean.associated.push(SNAP_ID);
    await expect(backup().take()).rejects.toThrow(/would delete this backup/);
    expect(digitalOcean.calls).toContain('GET /v2/kubernetes/clusters/cluster-uuid/destroy_with_associated_resources');
  });

  it('with a cluster the stack did not create (chat:kubeconfig) there is no destroy to ask about', async () => {
    const { digitalOcean, backup } = setup({ clusterName: undefined });
    const r = await backup().take();
    expect(r.destroy).toBe('not this stack’s cluster');
    expect(digitalOcean.calls.some((c) => c.includes('destroy_with_associated_resources'))).toBe(false);
  });

  it('memory-only Redis (no redis-pvc, or no AOF): says there is nothing to back up, takes no snapshot', async () => {
    const a = setup();
    a.cluster.claimExists = false;
    await expect(a.backup().take()).rejects.toThrow(
      /no PersistentVolumeClaim redis-pvc .*memory only \(nothing to back up\)/,
    );
    const b = setup();
    b.cluster.aofEnabled = '0';
    await expect(b.backup().take()).rejects.toThrow(/memory-only Redis, there is nothing on disk to back up/);
    expect([...a.digitalOcean.calls, ...b.digitalOcean.calls]).toEqual([]);
  });

  it('a volume that is not a DigitalOcean volume, or no Ready Redis pod: clear errors', async () => {
    const a = setup();
    a.cluster.driver = 'rancher.io/local-path';
    await expect(a.backup().take()).rejects.toThrow(/not a DigitalOcean volume \(CSI driver rancher.io\/local-path/);
    const b = setup();
    b.cluster.pods = [pod('redis-deployment-1', false)];
    await expect(b.backup().take()).rejects.toThrow(/no Ready Redis pod \(app=redis\).*not Ready/);
  });

  it('a failed rewrite: no snapshot, and rewrites are turned back on', async () => {
    const { cluster, digitalOcean, backup } = setup();
    cluster.bgrewriteStatus = 'err';
    await expect(backup().take()).rejects.toThrow(/aof_last_bgrewrite_status:err/);
    expect(digitalOcean.calls).toEqual([]);
    expect(cluster.percentage).toBe('100');
  });

  it('--list: this stack’s tagged snapshots, oldest first', async () => {
    const { digitalOcean } = setup();
    const s = (id: string, name: string, createdAt: string, tags = [BACKUP_TAG]): DoSnapshot => ({
      id,
      name,
      createdAt,
      sizeGigabytes: 0.1,
      minDiskSize: 1,
      tags,
    });
    digitalOcean.snapshots = [
      s('b', 'chat-stateful-redis-20260302-000000', '2026-03-02T00:00:00Z'),
      s('a', 'chat-stateful-redis-20260301-000000', '2026-03-01T00:00:00Z'),
      s('c', 'chat-stateless-redis-20260301-000000', '2026-03-01T00:00:00Z'),
      s('d', 'chat-stateful-redis-manual', '2026-03-01T00:00:00Z', []),
    ];
    expect((await listClusterBackups(digitalOcean.api, 'chat-stateful')).map((x) => x.id)).toEqual(['a', 'b']);
  });

  it('names snapshots with what DigitalOcean accepts', () => {
    expect(snapshotName('chat-stateful', NOW)).toMatch(/^[a-z0-9.-]+$/);
    expect(parseInfo('# Persistence\r\naof_enabled:1\r\n')).toEqual({ aof_enabled: '1' });
  });
});
