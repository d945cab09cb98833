/**
 * chat-app-lb's resource options: what `pulumi up` does to a load balancer that already
 * exists when its type annotation changes (stacks deployed before the type was explicit).
 */
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { ChatApp, LB_TYPE_ANNOTATION } from '../chat-app';
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
      expect({ name: a.name, replaceOnChanges: a.opts.replaceOnChanges }).toEqual({ name: a.name, replaceOnChanges: undefined });
    }
  });
});
