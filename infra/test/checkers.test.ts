/** The checkers the stack tests rely on catch what they are meant to catch. */
import { validateK8sObject } from './k8s-schema';
import { restrictedViolations } from './pss';

const good = () => ({
  securityContext: { runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' } },
  containers: [
    {
      name: 'app',
      securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
    },
  ],
  volumes: [{ name: 'tmp', emptyDir: {} }],
});

describe('restrictedViolations', () => {
  it('passes a compliant pod', () => {
    expect(restrictedViolations(good())).toEqual([]);
  });

  it.each([
    ['root user', (p: any) => (p.securityContext.runAsUser = 0), /runAsUser must not be 0/],
    ['no runAsNonRoot', (p: any) => delete p.securityContext.runAsNonRoot, /runAsNonRoot must be true/],
    [
      'container overrides runAsNonRoot',
      (p: any) => (p.containers[0].securityContext.runAsNonRoot = false),
      /runAsNonRoot/,
    ],
    [
      'escalation allowed',
      (p: any) => delete p.containers[0].securityContext.allowPrivilegeEscalation,
      /allowPrivilegeEscalation/,
    ],
    ['capabilities kept', (p: any) => (p.containers[0].securityContext.capabilities.drop = ['NET_RAW']), /drop ALL/],
    [
      'capability added',
      (p: any) => (p.containers[0].securityContext.capabilities.add = ['SYS_ADMIN']),
      /adds capability SYS_ADMIN/,
    ],
    ['no seccomp', (p: any) => delete p.securityContext.seccompProfile, /seccompProfile must be RuntimeDefault/],
    [
      'unconfined seccomp',
      (p: any) => (p.containers[0].securityContext.seccompProfile = { type: 'Unconfined' }),
      /seccompProfile/,
    ],
    ['privileged', (p: any) => (p.containers[0].securityContext.privileged = true), /privileged/],
    ['host network', (p: any) => (p.hostNetwork = true), /hostNetwork/],
    ['hostPath volume', (p: any) => p.volumes.push({ name: 'h', hostPath: { path: '/' } }), /uses hostPath/],
    ['host port', (p: any) => (p.containers[0].ports = [{ containerPort: 80, hostPort: 80 }]), /hostPort/],
    ['init container unhardened', (p: any) => (p.initContainers = [{ name: 'init' }]), /initContainer init/],
  ])('flags %s', (_what, mutate, message) => {
    const pod = good();
    mutate(pod);
    expect(restrictedViolations(pod).join('\n')).toMatch(message);
  });
});

describe('validateK8sObject', () => {
  const deployment = (containerPort: unknown) => ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'd' },
    spec: {
      selector: { matchLabels: { app: 'a' } },
      template: {
        metadata: { labels: { app: 'a' } },
        spec: { containers: [{ name: 'c', image: 'i', ports: [{ containerPort }] }] },
      },
    },
  });

  it('accepts a valid object', () => {
    expect(() => validateK8sObject(deployment(8080))).not.toThrow();
  });

  it('rejects a wrong type, naming the object and the field', () => {
    expect(() => validateK8sObject(deployment('8080'))).toThrow(
      /Deployment\/d is invalid: .*containerPort must be integer/,
    );
  });

  it('rejects a missing required field', () => {
    const d: any = deployment(8080);
    delete d.spec.selector;
    expect(() => validateK8sObject(d)).toThrow(/selector/);
  });

  it('refuses kinds it has no schema for, so nothing goes unvalidated', () => {
    expect(() => validateK8sObject({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' } })).toThrow(
      /no schema for v1 ConfigMap/,
    );
  });
});
