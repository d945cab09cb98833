/**
 * What every Kubernetes object of the stack shares: names the tutorial's kubectl commands
 * use, labels, and the restricted Pod Security Standard.
 */
import type * as k8s from '@pulumi/kubernetes';

/** Object names and pod labels exactly as in the tutorial's manifests (its kubectl commands use them). */
export const NAMES = {
  redisDeployment: 'redis-deployment',
  redisService: 'redis-service',
  redisPvc: 'redis-pvc',
  redisSecret: 'redis-auth',
  redisNetworkPolicy: 'redis-allow-chat-app',
  chatDeployment: 'chat-app-deployment',
  chatService: 'chat-app-lb',
  chatPdb: 'chat-app-pdb',
  chatPullSecret: 'chat-registry',
} as const;

export const REDIS_PORT = 6379;
export const CHAT_PORT = 8080;
/** The key in the redis-auth Secret. */
export const REDIS_PASSWORD_KEY = 'password';
/**
 * Pod-template annotation on both Deployments: the Redis password's revision, a random value
 * drawn anew whenever the password changes (Redis.passwordRevision). Containers read env from
 * a Secret only when they start, and updating the Secret changes no pod template, so without
 * it a new chat:redisPassword would reach nobody until some later restart, which then breaks
 * auth. A changed revision rolls Redis and the chat replicas together. It is not derived from
 * the password, so a reader of the pod template (anyone who may `get pods`) learns nothing
 * about it, and it is not secret, so `pulumi preview --diff` shows the Deployments' changes.
 */
export const REDIS_PASSWORD_ANNOTATION = 'doks-chat/redis-password-revision';

/** The `app` label selects pods (as in the seed); the app.kubernetes.io/* labels describe them. */
export function labels(app: 'redis' | 'chat-app', component: string, instance: string): Record<string, string> {
  return {
    app,
    'app.kubernetes.io/name': app,
    'app.kubernetes.io/instance': instance,
    'app.kubernetes.io/component': component,
    'app.kubernetes.io/part-of': 'doks-chat',
    'app.kubernetes.io/managed-by': 'pulumi',
  };
}

/** Container-level settings of the restricted Pod Security Standard. */
export const restrictedContainer: k8s.types.input.core.v1.SecurityContext = {
  allowPrivilegeEscalation: false,
  capabilities: { drop: ['ALL'] },
  runAsNonRoot: true,
};

/** Pod-level settings of the restricted Pod Security Standard for a given numeric user. */
export function restrictedPod(
  uid: number,
  gid: number,
  extra: Partial<k8s.types.input.core.v1.PodSecurityContext> = {},
): k8s.types.input.core.v1.PodSecurityContext {
  return {
    runAsNonRoot: true,
    // Numeric ids: the kubelet can only verify runAsNonRoot for numeric users.
    runAsUser: uid,
    runAsGroup: gid,
    seccompProfile: { type: 'RuntimeDefault' },
    ...extra,
  };
}
