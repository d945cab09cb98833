/**
 * The "restricted" Pod Security Standard (Kubernetes 1.30 definition), as a checker that
 * lists every violation in a pod spec. Covers the baseline controls too, since restricted
 * includes them. https://kubernetes.io/docs/concepts/security/pod-security-standards/
 */

const ALLOWED_VOLUME_SOURCES = new Set([
  'configMap',
  'csi',
  'downwardAPI',
  'emptyDir',
  'ephemeral',
  'persistentVolumeClaim',
  'projected',
  'secret',
]);
const SAFE_SYSCTLS = new Set([
  'kernel.shm_rmid_forced',
  'net.ipv4.ip_local_port_range',
  'net.ipv4.ip_unprivileged_port_start',
  'net.ipv4.tcp_syncookies',
  'net.ipv4.ping_group_range',
  'net.ipv4.ip_local_reserved_ports',
  'net.ipv4.tcp_keepalive_time',
  'net.ipv4.tcp_fin_timeout',
  'net.ipv4.tcp_keepalive_intvl',
  'net.ipv4.tcp_keepalive_probes',
]);
const SELINUX_TYPES = new Set([
  undefined,
  '',
  'container_t',
  'container_init_t',
  'container_kvm_t',
  'container_engine_t',
]);

export function restrictedViolations(pod: any): string[] {
  const v: string[] = [];
  const psc = pod.securityContext ?? {};
  const containers: any[] = [
    ...(pod.initContainers ?? []).map((c: any) => ({ ...c, _kind: 'initContainer' })),
    ...(pod.containers ?? []).map((c: any) => ({ ...c, _kind: 'container' })),
    ...(pod.ephemeralContainers ?? []).map((c: any) => ({ ...c, _kind: 'ephemeralContainer' })),
  ];
  if (containers.length === 0) v.push('pod has no containers');

  // Baseline
  for (const f of ['hostNetwork', 'hostPID', 'hostIPC']) if (pod[f]) v.push(`${f} must not be true`);
  if (psc.windowsOptions?.hostProcess) v.push('hostProcess must not be true');
  for (const vol of pod.volumes ?? []) {
    const source = Object.keys(vol).filter((k) => k !== 'name');
    for (const s of source) if (!ALLOWED_VOLUME_SOURCES.has(s)) v.push(`volume ${vol.name} uses ${s}`);
  }
  for (const s of psc.sysctls ?? []) if (!SAFE_SYSCTLS.has(s.name)) v.push(`unsafe sysctl ${s.name}`);
  if (!SELINUX_TYPES.has(psc.seLinuxOptions?.type) || psc.seLinuxOptions?.user || psc.seLinuxOptions?.role) {
    v.push('pod seLinuxOptions not allowed');
  }
  if (psc.appArmorProfile && !['RuntimeDefault', 'Localhost'].includes(psc.appArmorProfile.type))
    v.push('pod appArmorProfile not allowed');

  // Restricted, pod level
  if (psc.runAsUser === 0) v.push('pod runAsUser must not be 0');
  const podSeccomp = psc.seccompProfile?.type;
  if (podSeccomp !== undefined && !['RuntimeDefault', 'Localhost'].includes(podSeccomp))
    v.push(`pod seccompProfile ${podSeccomp}`);

  for (const c of containers) {
    const where = `${c._kind} ${c.name}`;
    const sc = c.securityContext ?? {};
    if (sc.privileged) v.push(`${where}: privileged`);
    if (sc.windowsOptions?.hostProcess) v.push(`${where}: hostProcess`);
    for (const p of c.ports ?? []) if (p.hostPort) v.push(`${where}: hostPort ${p.hostPort}`);
    if (sc.procMount !== undefined && sc.procMount !== 'Default') v.push(`${where}: procMount ${sc.procMount}`);
    if (!SELINUX_TYPES.has(sc.seLinuxOptions?.type) || sc.seLinuxOptions?.user || sc.seLinuxOptions?.role) {
      v.push(`${where}: seLinuxOptions not allowed`);
    }
    if (sc.appArmorProfile && !['RuntimeDefault', 'Localhost'].includes(sc.appArmorProfile.type))
      v.push(`${where}: appArmorProfile`);

    if (sc.allowPrivilegeEscalation !== false) v.push(`${where}: allowPrivilegeEscalation must be false`);
    const nonRoot = sc.runAsNonRoot ?? psc.runAsNonRoot;
    if (nonRoot !== true) v.push(`${where}: runAsNonRoot must be true (pod or container)`);
    if (sc.runAsUser === 0) v.push(`${where}: runAsUser must not be 0`);
    const seccomp = sc.seccompProfile?.type ?? podSeccomp;
    if (!['RuntimeDefault', 'Localhost'].includes(seccomp))
      v.push(`${where}: seccompProfile must be RuntimeDefault or Localhost`);
    const drop: string[] = sc.capabilities?.drop ?? [];
    if (!drop.includes('ALL')) v.push(`${where}: capabilities must drop ALL`);
    for (const cap of sc.capabilities?.add ?? [])
      if (cap !== 'NET_BIND_SERVICE') v.push(`${where}: adds capability ${cap}`);
  }
  return v;
}

/** Pod specs inside Kubernetes objects (Deployments, StatefulSets, Jobs, Pods, ...). */
export function podSpecsOf(obj: any): { where: string; spec: any }[] {
  const name = `${obj.kind}/${obj.metadata?.name}`;
  if (obj.kind === 'Pod') return [{ where: name, spec: obj.spec }];
  if (obj.kind === 'CronJob') return [{ where: name, spec: obj.spec?.jobTemplate?.spec?.template?.spec }];
  if (obj.spec?.template?.spec) return [{ where: name, spec: obj.spec.template.spec }];
  return [];
}
