/**
 * chat-app-lb: its resource options (what `pulumi up` does to a load balancer that already
 * exists when its type annotation changes) and how its IPv4 address is read from its status.
 */
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { ChatApp, LB_TYPE_ANNOTATION, loadBalancerIPv4 } from '../chat-app';
import { runProgram } from './harness';

describe('chat-app-lb resource options', () => {
  const seen: pulumi.ResourceTransformationArgs[] = [];
  beforeAll(async () => {
    await runProgram('stateless', () => {
      const provider = new k8s.Provider('k8s', { kubeconfig: 'apiVersion: v1\nclusters: []\n' });
      new ChatApp(
        'chat',
        {
          provider,
          instance: 'chat-stateless',
          image: 'chat:dev',
          replicas: 2,
          historyLimit: 100,
          redisHost: 'redis-service',
          redisPort: 6379,
          redisSecretName: 'redis-auth',
          redisPasswordRevision: 'revision',
        },
        // Transformations see each child's final options; record them, change nothing.
        {
          transformations: [
            (args) => {
              seen.push(args);
              return undefined;
            },
          ],
        },
      );
      return {};
    });
  });
  const service = () => {
    const found = seen.filter((a) => a.type === 'kubernetes:core/v1:Service' && a.name === 'chat-app-lb');
    expect(found).toHaveLength(1);
    return found[0];
  };

  it('replaces the Service (and so the balancer) when the type annotation changes', () => {
    // The controller never changes an existing balancer's type: it rewrites the annotation to
    // the balancer's actual type before every update (retrieveAndAnnotateLoadBalancer).
    expect(service().opts.replaceOnChanges).toEqual([`metadata.annotations["${LB_TYPE_ANNOTATION}"]`]);
    // The key is the path pulumi-kubernetes reports in its detailed diff for that annotation.
    expect(LB_TYPE_ANNOTATION).toBe('service.beta.kubernetes.io/do-loadbalancer-type');
  });

  it('deletes the old Service before creating the new one of the same name', () => {
    expect((service().opts as pulumi.CustomResourceOptions).deleteBeforeReplace).toBe(true);
  });

  it('does not replace any other object on such a change', () => {
    for (const a of seen.filter((x) => x !== service())) {
      expect({ name: a.name, replaceOnChanges: a.opts.replaceOnChanges }).toEqual({
        name: a.name,
        replaceOnChanges: undefined,
      });
    }
  });
});

describe('loadBalancerIPv4', () => {
  it('takes the IPv4 address of a dual-stack balancer, whichever order the status lists them in', () => {
    expect(
      loadBalancerIPv4({ loadBalancer: { ingress: [{ ip: '203.0.113.10' }, { ip: '2001:db8::1' }] } } as any),
    ).toBe('203.0.113.10');
    expect(
      loadBalancerIPv4({ loadBalancer: { ingress: [{ ip: '2001:db8::1' }, { ip: '203.0.113.10' }] } } as any),
    ).toBe('203.0.113.10');
  });

  it('is null while the balancer reports no IPv4 address', () => {
    expect(loadBalancerIPv4(undefined)).toBeNull();
    expect(loadBalancerIPv4({ loadBalancer: {} } as any)).toBeNull();
    expect(loadBalancerIPv4({ loadBalancer: { ingress: [{ hostname: 'lb.example.com' }] } } as any)).toBeNull();
    expect(loadBalancerIPv4({ loadBalancer: { ingress: [{ ip: '2001:db8::1' }] } } as any)).toBeNull();
  });
});
