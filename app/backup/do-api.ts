/**
 * The few DigitalOcean API v2 calls `npm run backup -- --target cluster` makes, with fetch.
 * Paths and fields as in godo (storage.go CreateSnapshot, snapshots.go ListVolume,
 * kubernetes.go List / ListAssociatedResourcesForDeletion).
 */
import type { DigitalOceanApi, DoSnapshot } from './cluster';
import { BackupError } from './aof-quiesce';

interface ApiSnapshot {
  id: string;
  name: string;
  created_at: string;
  size_gigabytes: number;
  min_disk_size: number;
  tags?: string[] | null;
}

const toSnapshot = (s: ApiSnapshot): DoSnapshot => ({
  id: s.id,
  name: s.name,
  createdAt: s.created_at,
  sizeGigabytes: s.size_gigabytes,
  minDiskSize: s.min_disk_size,
  tags: s.tags ?? [],
});

export function digitalOceanApi(token: string, base = 'https://api.digitalocean.com'): DigitalOceanApi {
  const call = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    let res: Response;
    try {
      res = await fetch(`${base}${path}`, {
        method,
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(60_000),
      });
    } catch (err) {
      throw new BackupError(`DigitalOcean API ${method} ${path}: ${(err as Error).message}`);
    }
    const text = await res.text();
    if (!res.ok) {
      let message = text.slice(0, 300);
      try {
        message = (JSON.parse(text) as { message?: string }).message ?? message;
      } catch {
        /* not JSON */
      }
      const hint =
        res.status === 401 ? ' (the token was refused: is DIGITALOCEAN_TOKEN current, with write scope?)' : '';
      throw new BackupError(`DigitalOcean API ${method} ${path}: HTTP ${res.status}: ${message}${hint}`);
    }
    return (text ? JSON.parse(text) : {}) as T;
  };
  /** Every page of a list (links.pages.next), 200 a page. */
  const all = async <T>(path: string, key: string): Promise<T[]> => {
    const out: T[] = [];
    for (let page = 1; ; page++) {
      const sep = path.includes('?') ? '&' : '?';
      const r = await call<Record<string, unknown> & { links?: { pages?: { next?: string } } }>(
        'GET',
        `${path}${sep}page=${page}&per_page=200`,
      );
      out.push(...((r[key] as T[] | undefined) ?? []));
      if (!r.links?.pages?.next) return out;
    }
  };
  return {
    async snapshotVolume(volumeId, name, tags) {
      const r = await call<{ snapshot: ApiSnapshot }>('POST', `/v2/volumes/${encodeURIComponent(volumeId)}/snapshots`, {
        name,
        tags,
      });
      return toSnapshot(r.snapshot);
    },
    async listVolumeSnapshots() {
      return (await all<ApiSnapshot>('/v2/snapshots?resource_type=volume', 'snapshots')).map(toSnapshot);
    },
    async clusterId(name) {
      const clusters = await all<{ id: string; name: string }>('/v2/kubernetes/clusters', 'kubernetes_clusters');
      return clusters.find((c) => c.name === name)?.id;
    },
    async associatedSnapshotIds(clusterId) {
      const r = await call<{ volume_snapshots?: { id: string }[] | null }>(
        'GET',
        `/v2/kubernetes/clusters/${encodeURIComponent(clusterId)}/destroy_with_associated_resources`,
      );
      return (r.volume_snapshots ?? []).map((s) => s.id);
    },
  };
}
