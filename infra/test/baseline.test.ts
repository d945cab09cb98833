/**
 * What a stack without chat:domain declares, compared with a fixture captured from the program
 * before issue #11 (fixtures/before-issue-11.json: every resource by type and name, the
 * chat-app-lb Service as applied, the chat container's environment). The one intended change
 * is the load balancer's explicit type; two annotations the controller ignored are gone.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadConfig } from '../config';
import { createStack } from '../stack';
import { runProgram, T } from './harness';

interface Baseline {
  resources: string[];
  service: any;
  chatEnv: any[];
}
const BEFORE: Record<string, Baseline> = JSON.parse(
  fs.readFileSync(path.join(__dirname, 'fixtures', 'before-issue-11.json'), 'utf8'),
);

describe.each(['stateless', 'stateful'])('stack %s without chat:domain, against the fixture', (stack) => {
  let now: Baseline;
  beforeAll(async () => {
    const r = await runProgram(stack, () => createStack(loadConfig()) as unknown as Record<string, unknown>);
    const chat = r.one(T.deployment, 'chat-app-deployment').inputs;
    now = {
      resources: r.resources.map((x) => `${x.type}::${x.name}`).sort(),
      service: r.one(T.service, 'chat-app-lb').inputs,
      chatEnv: chat.spec.template.spec.containers.find((c: any) => c.name === 'chat').env,
    };
  });

  it('declares the same resources, plus the separately managed worker pool (issue #13)', () => {
    // Workers moved out of the cluster's default pool, so a chat:nodeSize change replaces
    // only this pool, never the cluster (infra/cluster.ts).
    const addedLater = ['digitalocean:index/kubernetesNodePool:KubernetesNodePool::workers'];
    expect(now.resources).toEqual([...BEFORE[stack].resources, ...addedLater].sort());
  });

  it('gives the chat container the same environment', () => {
    expect(now.chatEnv).toEqual(BEFORE[stack].chatEnv);
  });

  it('declares chat-app-lb as before but for its annotations', () => {
    const strip = (svc: any) => ({ ...svc, metadata: { ...svc.metadata, annotations: undefined } });
    expect(strip(now.service)).toEqual(strip(BEFORE[stack].service));
  });

  it('changes only the load balancer type among the annotations that take effect', () => {
    const before: Record<string, string> = BEFORE[stack].service.metadata.annotations;
    const after: Record<string, string> = now.service.metadata.annotations;
    const added = Object.keys(after).filter((k) => !(k in before));
    const removed = Object.keys(before).filter((k) => !(k in after));
    const changed = Object.keys(after).filter((k) => k in before && after[k] !== before[k]);
    expect(added).toEqual(['service.beta.kubernetes.io/do-loadbalancer-type']);
    expect(after['service.beta.kubernetes.io/do-loadbalancer-type']).toBe('REGIONAL');
    expect(changed).toEqual([]);
    // These two never took effect: the controller reads them only under
    // do-loadbalancer-override-health-check, which was never set (buildHealthCheck).
    expect(removed.sort()).toEqual([
      'service.beta.kubernetes.io/do-loadbalancer-healthcheck-path',
      'service.beta.kubernetes.io/do-loadbalancer-healthcheck-protocol',
    ]);
    expect(Object.keys(before)).not.toContain('service.beta.kubernetes.io/do-loadbalancer-override-health-check');
  });
});
