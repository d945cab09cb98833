/**
 * DigitalOcean list prices in US dollars per month, in one table, with the day they were
 * read: `pulumi stack output monthlyCost` is computed from it, and the README's cost lines
 * are checked against it (app/test/docs.test.ts). Prices change: re-read the pages below
 * and update `readOn` with them.
 */
export const PRICES = {
  /** When these figures were last compared with the sources below. */
  readOn: '2026-12-01',
  sources: [
    'https://www.digitalocean.com/pricing/droplets',
    'https://docs.digitalocean.com/products/kubernetes/details/pricing/',
    'https://www.digitalocean.com/pricing/load-balancers',
    'https://www.digitalocean.com/pricing/volumes',
    'https://www.digitalocean.com/pricing/managed-databases',
  ],
  /** Basic Droplets (DOKS nodes are billed as Droplets). */
  droplet: {
    's-1vcpu-2gb': 12,
    's-2vcpu-2gb': 18,
    's-2vcpu-4gb': 24,
    's-4vcpu-8gb': 48,
  } as Record<string, number>,
  /** DOKS's highly available control plane (chat:highAvailability). */
  haControlPlane: 40,
  /** A regional HTTP load balancer, one node. */
  loadBalancer: 12,
  /** Block storage, per GiB. */
  volumePerGiB: 0.1,
  /** DOCR subscription tiers. */
  registry: { starter: 0, basic: 5, professional: 20 } as Record<string, number>,
  /**
   * Managed Valkey, one node of each size; a standby node costs what its primary does.
   * Standby nodes need 2 GiB of RAM or more (DigitalOcean docs, "How to Add Standby Nodes
   * to Valkey Database Clusters": "standby nodes are only supported for plans with 2 GB of
   * RAM or more"; "Valkey clusters can have up to one standby node").
   */
  valkey: {
    'db-s-1vcpu-1gb': 15,
    'db-s-1vcpu-2gb': 30,
    'db-s-2vcpu-4gb': 60,
    'db-s-4vcpu-8gb': 120,
  } as Record<string, number>,
} as const;

/** What a stack declares that costs money. */
export interface CostInput {
  /** Nodes by Droplet size (worker pool and default pool); none on an existing cluster. */
  nodes: { size: string; count: number }[];
  highAvailability: boolean;
  loadBalancers: number;
  volumeGiB: number;
  registryTier?: string;
  valkey?: { size: string; standby: boolean };
}

export interface CostLine {
  item: string;
  usd: number;
}

export interface MonthlyCost {
  /** Sum of the lines, rounded to cents. */
  usd: number;
  lines: CostLine[];
  /** Things declared whose price is not in the table (counted as 0). */
  unpriced: string[];
  pricesReadOn: string;
}

const cents = (n: number) => Math.round(n * 100) / 100;

/** The stack's monthly list price from what it declares, line by line. */
export function monthlyCost(input: CostInput): MonthlyCost {
  const lines: CostLine[] = [];
  const unpriced: string[] = [];
  const price = (table: Record<string, number>, key: string, what: string) => {
    const p = table[key];
    if (p === undefined) unpriced.push(what);
    return p ?? 0;
  };
  for (const n of input.nodes) {
    lines.push({ item: `${n.count} × node ${n.size}`, usd: n.count * price(PRICES.droplet, n.size, `node ${n.size}`) });
  }
  if (input.highAvailability) lines.push({ item: 'HA control plane', usd: PRICES.haControlPlane });
  if (input.loadBalancers > 0)
    lines.push({ item: `${input.loadBalancers} × load balancer`, usd: input.loadBalancers * PRICES.loadBalancer });
  if (input.volumeGiB > 0)
    lines.push({ item: `volume ${input.volumeGiB} GiB`, usd: cents(input.volumeGiB * PRICES.volumePerGiB) });
  if (input.registryTier !== undefined) {
    lines.push({
      item: `registry ${input.registryTier}`,
      usd: price(PRICES.registry, input.registryTier, `registry ${input.registryTier}`),
    });
  }
  if (input.valkey) {
    const node = price(PRICES.valkey, input.valkey.size, `Valkey ${input.valkey.size}`);
    lines.push({ item: `Managed Valkey ${input.valkey.size}`, usd: node });
    if (input.valkey.standby) lines.push({ item: `Managed Valkey standby ${input.valkey.size}`, usd: node });
  }
  return { usd: cents(lines.reduce((s, l) => s + l.usd, 0)), lines, unpriced, pricesReadOn: PRICES.readOn };
}
