/* No imports: `npm run backup` names snapshots with it without loading Pulumi. */

/**
 * `chat-<stack>`: names the cluster and the load balancer, labels the pods. Stack names may
 * hold capitals, dots and underscores, which DigitalOcean names and label values may not.
 */
export function instanceName(stack: string): string {
  const slug = stack
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return `chat-${slug || 'stack'}`.slice(0, 63).replace(/-+$/, '');
}
