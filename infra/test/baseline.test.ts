/**
 * What a stack without chat:domain declares, compared with a fixture captured from the program
 * before issue #11 (fixtures/before-issue-11.json: every resource by type and name, the
 * chat-app-lb Service as applied, the chat container's environment). Each intended difference
 * is named below with the issue that made it:
 * - #11: the load balancer's explicit type; two annotations the controller ignored are gone.
 * - #13: the workers pool, managed apart from the cluster.
 * - #17: the health check's interval, timeout and thresholds named on chat-app-lb (the preStop
 *   wait is computed from them); DRAIN_SECONDS in the chat container's environment (the drain
 *   the grace period counts on); a RandomId whose bytes roll the pods on a new Redis password
 *   (instead of a digest of the password); on a stack with a volume, the Stash that records
 *   the class redis-pvc was created with.
 * The fixture holds no pod spec and no DigitalOcean resource's inputs; their #17 changes (the
 * preStop wait, grace period, workers nodeSelector and revision annotation; the workers label,
 * short-lived credentials, ignored default-pool fields; the per-stack image tag) are asserted
 * in stacks.test.ts and options.test.ts.
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

  it('declares the same resources, plus the worker pool (#13), the password revision and the class record (#17)', () => {
    const addedLater = [
      // #13: workers moved out of the cluster's default pool, so a chat:nodeSize change
      // replaces only this pool, never the cluster (infra/cluster.ts).
      'digitalocean:index/kubernetesNodePool:KubernetesNodePool::workers',
      // #17: random bytes, drawn anew with each Redis password, roll both Deployments; the
      // pod template no longer carries anything computed from the password (infra/redis.ts).
      'random:index/randomId:RandomId::redis-password-revision',
      // #17: the class redis-pvc was created with, so a changed chat:storageClass is refused
      // rather than replacing the claim (infra/redis.ts recordStorageClass).
      ...(stack === 'stateful' ? ['pulumi:index:Stash::redis-pvc-storage-class'] : []),
    ];
    expect(now.resources).toEqual([...BEFORE[stack].resources, ...addedLater].sort());
  });

  it('gives the chat container the same environment, plus DRAIN_SECONDS (#17)', () => {
    // #17: the drain after SIGTERM that terminationGracePeriodSeconds counts on, passed
    // explicitly (it equals the service's own default).
    expect(now.chatEnv).toEqual([...BEFORE[stack].chatEnv, { name: 'DRAIN_SECONDS', value: '10' }]);
  });

  it('declares chat-app-lb as before but for its annotations', () => {
    const strip = (svc: any) => ({ ...svc, metadata: { ...svc.metadata, annotations: undefined } });
    expect(strip(now.service)).toEqual(strip(BEFORE[stack].service));
  });

  it('adds the load balancer type (#11) and the health check it already had (#17), and changes no annotation', () => {
    const before: Record<string, string> = BEFORE[stack].service.metadata.annotations;
    const after: Record<string, string> = now.service.metadata.annotations;
    const added = Object.keys(after).filter((k) => !(k in before));
    const removed = Object.keys(before).filter((k) => !(k in after));
    const changed = Object.keys(after).filter((k) => k in before && after[k] !== before[k]);
    const DO_LB = 'service.beta.kubernetes.io/do-loadbalancer-';
    expect(added.sort()).toEqual(
      [
        `${DO_LB}type`,
        `${DO_LB}healthcheck-check-interval-seconds`,
        `${DO_LB}healthcheck-response-timeout-seconds`,
        `${DO_LB}healthcheck-unhealthy-threshold`,
        `${DO_LB}healthcheck-healthy-threshold`,
      ].sort(),
    );
    expect(after[`${DO_LB}type`]).toBe('REGIONAL');
    // #17 names the controller's defaults (buildHealthCheck: 3 s, 5 s, 3, 5), so the balancer
    // checks as before; only a change of those defaults could no longer move the preStop wait.
    expect({
      interval: after[`${DO_LB}healthcheck-check-interval-seconds`],
      timeout: after[`${DO_LB}healthcheck-response-timeout-seconds`],
      unhealthy: after[`${DO_LB}healthcheck-unhealthy-threshold`],
      healthy: after[`${DO_LB}healthcheck-healthy-threshold`],
    }).toEqual({ interval: '3', timeout: '5', unhealthy: '3', healthy: '5' });
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
