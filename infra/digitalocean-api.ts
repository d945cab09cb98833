/**
 * The few DigitalOcean API reads the program makes itself, before it declares anything,
 * where the provider's data sources would answer wrongly (see cluster.ts, runningCluster).
 *
 * Same endpoint and token as the DigitalOcean provider: its `api_endpoint` is the
 * `digitalocean:apiEndpoint` config, else DIGITALOCEAN_API_URL, else
 * https://api.digitalocean.com (terraform-provider-digitalocean digitalocean/provider.go,
 * "api_endpoint" DefaultFunc EnvDefaultFunc); the token as config.ts digitalOceanToken().
 */
import * as pulumi from '@pulumi/pulumi';

export interface DigitalOceanApi {
  /** GET a path (or an absolute URL the API handed back, e.g. links.pages.next) as JSON. */
  get(pathOrUrl: string): Promise<unknown>;
}

export const DEFAULT_API_URL = 'https://api.digitalocean.com';

/** Where the provider sends its requests. */
export function apiBaseUrl(): string {
  return new pulumi.Config('digitalocean').get('apiEndpoint') ?? process.env.DIGITALOCEAN_API_URL ?? DEFAULT_API_URL;
}

/** An API client on fetch, with the token as a bearer token. Any non-2xx answer is an error naming the path. */
export function digitalOceanApi(token: string, baseUrl = apiBaseUrl(), timeoutMs = 30_000): DigitalOceanApi {
  return {
    async get(pathOrUrl) {
      const url = /^https?:\/\//.test(pathOrUrl) ? pathOrUrl : `${baseUrl.replace(/\/+$/, '')}${pathOrUrl}`;
      let res: Response;
      try {
        res = await fetch(url, {
          headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (err) {
        throw new pulumi.RunError(`DigitalOcean API GET ${new URL(url).pathname} failed: ${(err as Error).message}`);
      }
      const text = await res.text();
      if (!res.ok) {
        throw new pulumi.RunError(
          `DigitalOcean API GET ${new URL(url).pathname} answered ${res.status}: ${text.slice(0, 300)}`,
        );
      }
      return JSON.parse(text) as unknown;
    },
  };
}

interface Page {
  links?: { pages?: { next?: string } };
  meta?: { total?: number };
  [key: string]: unknown;
}

/**
 * Every item of a paged DigitalOcean list (`{ <key>: [...], links: { pages: { next } },
 * meta: { total } }`, godo links.go), following `links.pages.next` to the last page.
 *
 * Refuses when it cannot be sure it saw everything: an answer without the list, or fewer
 * items than `meta.total` after the last page. A caller that reads "not in the list" as
 * "does not exist" may act on that (cluster.ts), so a short list must not pass as complete.
 */
export async function listAll<T>(api: DigitalOceanApi, path: string, key: string, maxPages = 1000): Promise<T[]> {
  const items: T[] = [];
  let next: string | undefined = `${path}${path.includes('?') ? '&' : '?'}per_page=200&page=1`;
  let total: number | undefined;
  for (let pages = 0; next !== undefined; pages++) {
    if (pages >= maxPages) throw new pulumi.RunError(`DigitalOcean API ${path}: more than ${maxPages} pages`);
    const page = (await api.get(next)) as Page;
    const list = page?.[key];
    if (!Array.isArray(list)) {
      throw new pulumi.RunError(`DigitalOcean API ${path}: the answer has no "${key}" list`);
    }
    items.push(...(list as T[]));
    total = typeof page.meta?.total === 'number' ? page.meta.total : total;
    next = page.links?.pages?.next || undefined;
  }
  if (total !== undefined && items.length < total) {
    throw new pulumi.RunError(
      `DigitalOcean API ${path}: listed ${items.length} of the ${total} it reports; not sure the list is complete`,
    );
  }
  return items;
}
