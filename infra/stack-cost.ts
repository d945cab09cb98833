/**
 * `pulumi stack output monthlyCost`: the monthly list price of what the stack declares,
 * from the one price table (prices.ts). An estimate: usage is billed by the hour, bandwidth
 * beyond the free allowance and backups of other products are not counted.
 */
import { DEFAULT_POOL } from './cluster';
import type { ChatConfig } from './config';
import { monthlyCost, type CostInput, type MonthlyCost } from './prices';

/** GiB of a Kubernetes quantity config.ts accepted (whole GiB: 1Gi, 2048Mi, 1Ti). */
export function gib(quantity: string): number {
  const m = /^(\d+)(Mi|Gi|Ti)$/.exec(quantity);
  if (!m) return 0;
  return (Number(m[1]) * { Mi: 1, Gi: 1024, Ti: 1024 * 1024 }[m[2] as 'Mi' | 'Gi' | 'Ti']) / 1024;
}

export function costInput(cfg: ChatConfig): CostInput {
  const created = cfg.kubeconfig === undefined;
  return {
    // An existing cluster (chat:kubeconfig) is billed to whoever runs it.
    nodes: created
      ? [
          { size: DEFAULT_POOL.size, count: DEFAULT_POOL.nodeCount },
          // With autoscaling and no chat:nodeCount, DOKS sizes the pool: the estimate counts minNodes.
          { size: cfg.nodeSize, count: cfg.nodeCount ?? cfg.autoscale?.minNodes ?? 0 },
        ]
      : [],
    highAvailability: created && cfg.highAvailability,
    // chat-app-lb is the stack's one load balancer.
    loadBalancers: 1,
    volumeGiB: cfg.redis === 'pod' && cfg.persistence ? gib(cfg.redisStorageSize) : 0,
    // An existing registry (the other stack's) and a prebuilt image add nothing.
    registryTier: cfg.image === undefined && cfg.registry.mode === 'create' ? cfg.registry.tier : undefined,
    valkey: cfg.redis === 'managed' ? { size: cfg.redisSize, standby: cfg.redisStandby } : undefined,
  };
}

export function stackCost(cfg: ChatConfig): MonthlyCost {
  return monthlyCost(costInput(cfg));
}
