/**
 * chat:domain: a name and HTTPS for the chat. Both stack files, with and without the key,
 * under mocks: the certificate, chat-app-lb's port 443 and TLS annotations, the A record
 * wired to the load balancer's IP, and the outputs.
 */
import { loadConfig as loadServiceConfig } from '../../app/src/config';
import { loadConfig } from '../config';
import { certificateName, conflictingRecords, relativeRecordName } from '../domain';
import { createStack } from '../stack';
import {
  FAKE_DO_TOKEN,
  FAKE_LB_IP,
  liveLoadBalancers,
  liveRecords,
  optionsRecorder,
  Recorded,
  runProgram,
  RunResult,
  T,
} from './harness';
import { validateK8sObject } from './k8s-schema';

const DO_LB = 'service.beta.kubernetes.io/do-loadbalancer-';
const TLS_ANNOTATIONS = [
  'tls-ports',
  'certificate-name',
  'redirect-http-to-https',
  'disable-lets-encrypt-dns-records',
].map((k) => `${DO_LB}${k}`);

const run = (stack: string, overrides: Record<string, string | undefined> = {}) =>
  runProgram(stack, () => createStack(loadConfig()) as unknown as Record<string, unknown>, overrides);

const chatEnv = (r: RunResult): Record<string, unknown> =>
  Object.fromEntries(
    r
      .one(T.deployment, 'chat-app-deployment')
      .inputs.spec.template.spec.containers[0].env.map((e: any) => [e.name, e.value ?? e.valueFrom]),
  );
const key = (x: Recorded) => `${x.type}::${x.name}`;

describe.each(['stateless', 'stateful'])('stack %s', (stack) => {
  const runs: Record<'plain' | 'https', RunResult> = {} as any;
  beforeAll(async () => {
    runs.plain = await run(stack);
    runs.https = await run(stack, { 'chat:domain': 'chat.example.com' });
  });

  describe('without chat:domain', () => {
    const r = () => runs.plain;

    it('creates no certificate and no DNS record', () => {
      expect(r().byType(T.certificate)).toEqual([]);
      expect(r().byType(T.dnsRecord)).toEqual([]);
    });

    it('serves plain HTTP on port 80 of a REGIONAL balancer, with no TLS annotation', () => {
      const lb = r().one(T.service, 'chat-app-lb').inputs;
      expect(lb.spec.ports.map((p: any) => p.port)).toEqual([80]);
      expect(lb.metadata.annotations[`${DO_LB}type`]).toBe('REGIONAL');
      for (const k of TLS_ANNOTATIONS) expect(lb.metadata.annotations).not.toHaveProperty([k]);
      expect(chatEnv(r())).not.toHaveProperty('HTTPS_ONLY');
    });

    it('outputs http://<IP> and the IP', () => {
      expect(r().outputs.url).toBe(`http://${FAKE_LB_IP}`);
      expect(r().outputs.loadBalancerIp).toBe(FAKE_LB_IP);
    });
  });

  describe('with chat:domain chat.example.com', () => {
    const r = () => runs.https;

    it("creates a Let's Encrypt certificate for exactly that name, named after the stack", () => {
      const cert = r().one(T.certificate).inputs;
      expect(cert).toEqual({
        name: `chat-${stack}-chat-example-com`,
        type: 'lets_encrypt',
        domains: ['chat.example.com'],
      });
      expect(r().urns.find((u) => u.endsWith('$digitalocean:index/certificate:Certificate::certificate'))).toMatch(
        /::doks-chat:infra:HttpsCertificate\$digitalocean:index\/certificate:Certificate::certificate$/,
      );
    });

    it('adds port 443 beside 80 on chat-app-lb, both to the chat HTTP port', () => {
      const lb = r().one(T.service, 'chat-app-lb').inputs;
      expect(lb.spec.ports).toEqual([
        { name: 'http', protocol: 'TCP', port: 80, targetPort: 'http' },
        { name: 'https', protocol: 'TCP', port: 443, targetPort: 'http' },
      ]);
      expect(() => validateK8sObject(lb)).not.toThrow();
    });

    it('terminates TLS on 443 with the certificate by name, redirects 80, and leaves DNS to the program', () => {
      const a = r().one(T.service, 'chat-app-lb').inputs.metadata.annotations;
      expect(a).toMatchObject({
        [`${DO_LB}type`]: 'REGIONAL',
        [`${DO_LB}protocol`]: 'http',
        [`${DO_LB}tls-ports`]: '443',
        [`${DO_LB}certificate-name`]: r().one(T.certificate).inputs.name,
        [`${DO_LB}redirect-http-to-https`]: 'true',
        [`${DO_LB}disable-lets-encrypt-dns-records`]: 'true',
      });
      // The id changes at every Let's Encrypt renewal; the name does not.
      expect(a).not.toHaveProperty([`${DO_LB}certificate-id`]);
      for (const v of Object.values(a)) expect(typeof v).toBe('string');
    });

    it('points an A record in the zone (the domain without its first label) at the load balancer IP, short TTL', () => {
      const record = r().one(T.dnsRecord).inputs;
      // FAKE_LB_IP exists only in the mocked chat-app-lb status: the value is wired to it.
      expect(record).toEqual({ domain: 'example.com', name: 'chat', type: 'A', value: FAKE_LB_IP, ttl: 60 });
      expect(r().urns.find((u) => u.endsWith('$digitalocean:index/dnsRecord:DnsRecord::record'))).toMatch(
        /::doks-chat:infra:DnsName\$digitalocean:index\/dnsRecord:DnsRecord::record$/,
      );
    });

    it('outputs https://<domain> as the url and still the IP', () => {
      expect(r().outputs.url).toBe('https://chat.example.com');
      expect(r().outputs.loadBalancerIp).toBe(FAKE_LB_IP);
    });

    it('tells the chat container it is served over HTTPS only, and nothing else changes in its environment', () => {
      const plain = chatEnv(runs.plain);
      expect(chatEnv(r())).toEqual({ ...plain, HTTPS_ONLY: 'true' });
      // The service reads it as such (values the kubelet fills in get stand-ins).
      const asStrings = (env: Record<string, unknown>) =>
        Object.fromEntries(
          Object.entries(env).map(([k, v]) => [k, typeof v === 'string' ? v : `from-${k.toLowerCase()}`]),
        );
      expect(loadServiceConfig(asStrings(chatEnv(r()))).httpsOnly).toBe(true);
      expect(loadServiceConfig(asStrings(plain)).httpsOnly).toBe(false);
    });

    it('adds the certificate, the record and their components, and keeps every other resource', () => {
      const before = new Set(runs.plain.resources.map(key));
      const after = new Set(r().resources.map(key));
      expect([...after].filter((k) => !before.has(k)).sort()).toEqual(
        [
          'doks-chat:infra:HttpsCertificate::https',
          `${T.certificate}::certificate`,
          'doks-chat:infra:DnsName::dns',
          `${T.dnsRecord}::record`,
        ].sort(),
      );
      expect([...before].filter((k) => !after.has(k))).toEqual([]);
    });

    it('changes chat-app-lb only by port 443 and the TLS annotations, so turning it on does not replace the balancer', () => {
      const plain = runs.plain.one(T.service, 'chat-app-lb').inputs;
      const https = r().one(T.service, 'chat-app-lb').inputs;
      const tlsFree = Object.fromEntries(
        Object.entries(https.metadata.annotations).filter(([k]) => !TLS_ANNOTATIONS.includes(k)),
      );
      expect(tlsFree).toEqual(plain.metadata.annotations);
      expect({ ...https.spec, ports: https.spec.ports.slice(0, 1) }).toEqual(plain.spec);
    });
  });
});

describe('chat:domain variants', () => {
  it('chat:dnsZone equal to chat:domain puts the record at the zone apex (@)', async () => {
    const r = await run('stateless', { 'chat:domain': 'example.com', 'chat:dnsZone': 'example.com' });
    expect(r.one(T.dnsRecord).inputs).toMatchObject({ domain: 'example.com', name: '@' });
    expect(r.one(T.certificate).inputs.domains).toEqual(['example.com']);
    expect(r.outputs.url).toBe('https://example.com');
  });

  it('a zone two labels up gives a two-label record name', async () => {
    const r = await run('stateful', { 'chat:domain': 'chat.eu.example.com', 'chat:dnsZone': 'example.com' });
    expect(r.one(T.dnsRecord).inputs).toMatchObject({ domain: 'example.com', name: 'chat.eu' });
  });

  it('works on an existing cluster (chat:kubeconfig) with a DigitalOcean token: no cluster, a certificate and a record', async () => {
    const kubeconfig =
      'apiVersion: v1\nkind: Config\nclusters:\n- name: doks\n  cluster: {server: https://x}\ncurrent-context: doks\n';
    const r = await run('stateful', {
      'chat:kubeconfig': kubeconfig,
      'chat:domain': 'chat.example.com',
      'digitalocean:token': FAKE_DO_TOKEN,
    });
    expect(r.byType(T.cluster)).toEqual([]);
    expect(r.byType(T.certificate)).toHaveLength(1);
    expect(r.one(T.dnsRecord).inputs.value).toBe(FAKE_LB_IP);
    expect(r.outputs.url).toBe('https://chat.example.com');
  });

  it('on an existing cluster without a token, fails naming chat:domain and saying why', async () => {
    const kubeconfig = 'apiVersion: v1\nkind: Config\nclusters: []\n';
    await expect(
      run('stateless', {
        'chat:kubeconfig': kubeconfig,
        'chat:domain': 'chat.example.com',
        'digitalocean:token': undefined,
      }),
    ).rejects.toThrow(/chat:domain must be used with a DigitalOcean API token, also with chat:kubeconfig/);
  });
});

describe('records already at chat:domain', () => {
  afterEach(() => {
    liveRecords.clear();
    liveLoadBalancers.clear();
  });

  /** Runs with chat:domain, recording every resource declared (a transformation sees each). */
  const attempt = (overrides: Record<string, string> = {}) => {
    const rec = optionsRecorder();
    const result = runProgram(
      'stateless',
      () => createStack(loadConfig(), { transformations: [rec.transformation] }) as unknown as Record<string, unknown>,
      { 'chat:domain': 'chat.example.com', ...overrides },
    );
    return { result, declared: () => [...rec.byName.keys()] };
  };

  it('an A record at the name fails the run before anything is declared, naming it and what to do', async () => {
    liveRecords.set('example.com', [
      { id: 101, name: 'chat', type: 'A', value: '198.51.100.7' },
      { id: 102, name: 'www', type: 'A', value: '198.51.100.8' },
    ]);
    const { result, declared } = attempt();
    await expect(result).rejects.toThrow(
      /chat:domain chat\.example\.com already has DNS records in the DigitalOcean zone example\.com/,
    );
    await expect(result).rejects.toThrow(/- A chat → 198\.51\.100\.7 \(id 101\)/);
    await expect(result).rejects.toThrow(/doctl compute domain records delete example\.com 101`/);
    await expect(result).rejects.toThrow(/pulumi config set chat:domain <name>/);
    await expect(result).rejects.not.toThrow(/www/);
    expect(declared()).toEqual([]);
  });

  it('so do an AAAA or a CNAME record, and an A record at the apex', async () => {
    liveRecords.set('example.com', [
      { id: 201, name: 'chat', type: 'AAAA', value: '2001:db8::7' },
      { id: 202, name: 'chat', type: 'CNAME', value: 'old-host.example.net.' },
      { id: 203, name: '@', type: 'A', value: '198.51.100.9' },
    ]);
    await expect(attempt().result).rejects.toThrow(/- AAAA chat → 2001:db8::7 \(id 201\)\n {2}- CNAME chat → old-host/);
    await expect(attempt({ 'chat:domain': 'example.com', 'chat:dnsZone': 'example.com' }).result).rejects.toThrow(
      /- A @ → 198\.51\.100\.9 \(id 203\)/,
    );
  });

  it("passes records of other types at the name, and records that point at this stack's own load balancer", async () => {
    liveLoadBalancers.set('chat-stateless', { ip: FAKE_LB_IP, ipv6: '2001:db8::10' });
    liveRecords.set('example.com', [
      // The A record this stack created on an earlier run.
      { id: 301, name: 'chat', type: 'A', value: FAKE_LB_IP },
      { id: 302, name: 'chat', type: 'AAAA', value: '2001:db8::10' },
      { id: 303, name: 'chat', type: 'TXT', value: 'v=spf1 -all' },
      { id: 304, name: 'chat', type: 'MX', value: 'mail.example.com.' },
    ]);
    const r = await attempt().result;
    expect(r.one(T.dnsRecord).inputs).toMatchObject({ name: 'chat', type: 'A', value: FAKE_LB_IP });
  });

  it('conflictingRecords: A, AAAA and CNAME are in the way unless they point at the own balancer; a CNAME always is', () => {
    const rec = (id: number, type: string, value: string) => ({ id, name: 'chat', type, value });
    expect(
      conflictingRecords(
        [rec(1, 'A', '203.0.113.10'), rec(2, 'A', '198.51.100.1'), rec(3, 'cname', '203.0.113.10'), rec(4, 'CAA', 'x')],
        ['203.0.113.10'],
      ).map((r) => r.id),
    ).toEqual([2, 3]);
  });
});

describe('names', () => {
  it('relativeRecordName: "@" at the apex, the leading labels otherwise', () => {
    expect(relativeRecordName('example.com', 'example.com')).toBe('@');
    expect(relativeRecordName('chat.example.com', 'example.com')).toBe('chat');
    expect(relativeRecordName('a.b.example.com', 'example.com')).toBe('a.b');
    // A suffix that is not on a label boundary is not the zone.
    expect(() => relativeRecordName('chatexample.com', 'example.com')).toThrow(/not in the zone/);
  });

  it('certificateName: unique per stack and domain, in DigitalOcean name characters', () => {
    expect(certificateName('chat-stateful', 'chat.example.com')).toBe('chat-stateful-chat-example-com');
    expect(certificateName('chat-stateless', 'chat.example.com')).not.toBe(
      certificateName('chat-stateful', 'chat.example.com'),
    );
    expect(certificateName('chat-x', 'a.example.com')).not.toBe(certificateName('chat-x', 'b.example.com'));
  });
});
