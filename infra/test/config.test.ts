/**
 * The stack configuration: the real stack files load, defaults apply, and every wrong
 * value stops the program with a message naming the key and what is allowed.
 */
import * as pulumi from '@pulumi/pulumi';
import { SETTING_KEYS, SETTINGS } from '../../app/src/stack-settings';
import { ChatConfig, ConfigError, loadConfig, RawConfig } from '../config';
import { stackConfig } from './harness';

/** A RawConfig over `chat:*` entries of a plain map, as `pulumi up` would pass them. */
function raw(values: Record<string, string>): RawConfig {
  const chat = Object.fromEntries(
    Object.entries(values)
      .filter(([k]) => k.startsWith('chat:'))
      .map(([k, v]) => [k.slice('chat:'.length), v]),
  );
  return { get: (k) => chat[k], keys: () => Object.keys(chat) };
}

const TOKEN = () => 'dop_v1_token';
const load = (values: Record<string, string>, doToken: () => string | undefined = TOKEN): ChatConfig =>
  loadConfig({ raw: raw(values), stack: 'test', doToken });

function problemsOf(values: Record<string, string>, doToken: () => string | undefined = TOKEN): string {
  try {
    load(values, doToken);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    expect(pulumi.RunError.isInstance(err)).toBe(true); // printed without a stack trace
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
}

const secretValue = (o: pulumi.Output<string> | undefined) =>
  new Promise<string | undefined>((resolve) => (o ? o.apply(resolve) : resolve(undefined)));

describe('the stack files', () => {
  it('Pulumi.stateless.yaml: memory-only Redis, defaults elsewhere', () => {
    const c = load(stackConfig('stateless'));
    expect(c.persistence).toBe(false);
    expect(c).toMatchObject({
      region: SETTINGS.region.default,
      nodeSize: SETTINGS.nodeSize.default,
      nodeCount: 2,
      appReplicas: 2,
      redisStorageSize: '1Gi',
      storageClass: 'do-block-storage',
      appendfsync: 'everysec',
      historyLimit: 100,
      highAvailability: false,
      registry: { mode: 'create', tier: 'starter' },
    });
    expect(c.kubernetesVersion).toBeUndefined();
    expect(c.autoscale).toBeUndefined();
    expect(c.kubeconfig).toBeUndefined();
    expect(c.image).toBeUndefined();
    expect(c.domain).toBeUndefined();
  });

  it('Pulumi.stateful.yaml: AOF Redis on a 1Gi do-block-storage volume', () => {
    const c = load(stackConfig('stateful'));
    expect(c).toMatchObject({
      persistence: true,
      appendfsync: 'everysec',
      redisStorageSize: '1Gi',
      storageClass: 'do-block-storage',
    });
  });

  it('set only known keys', () => {
    for (const stack of ['stateless', 'stateful']) {
      for (const key of Object.keys(stackConfig(stack))) {
        expect(SETTING_KEYS as readonly string[]).toContain(key.replace(/^chat:/, ''));
      }
    }
  });
});

describe('secrets', () => {
  it('keeps kubeconfig, Redis password and the DigitalOcean token secret', async () => {
    const c = load({ 'chat:persistence': 'false', 'chat:redisPassword': 'x'.repeat(20) });
    expect(await pulumi.isSecret(c.redisPassword!)).toBe(true);
    expect(await secretValue(c.redisPassword)).toBe('x'.repeat(20));
    expect(await pulumi.isSecret(c.doToken!)).toBe(true);
    const k = load({ 'chat:persistence': 'false', 'chat:kubeconfig': 'apiVersion: v1\nclusters: []\n' });
    expect(await pulumi.isSecret(k.kubeconfig!)).toBe(true);
    // An existing cluster needs no DigitalOcean token.
    expect(k.doToken).toBeUndefined();
  });
});

describe('invalid values fail naming the key and what is allowed', () => {
  const base = { 'chat:persistence': 'false' };
  it.each([
    ['chat:persistence', 'yes', /chat:persistence must be "true" or "false"; got "yes"/],
    ['chat:region', 'Frankfurt', /chat:region must be a DigitalOcean region slug.*got "Frankfurt"/],
    ['chat:kubernetesVersion', 'latest', /chat:kubernetesVersion must be a DOKS version prefix/],
    ['chat:nodeSize', 'big', /chat:nodeSize must be a Droplet size slug/],
    ['chat:nodeCount', '0', /chat:nodeCount must be a whole number from 1 to 100; got "0"/],
    ['chat:nodeCount', 'two', /chat:nodeCount must be a whole number/],
    ['chat:highAvailability', '1', /chat:highAvailability must be "true" or "false"/],
    ['chat:appReplicas', '2.5', /chat:appReplicas must be a whole number from 1 to 50/],
    ['chat:redisStorageSize', '500Mi', /chat:redisStorageSize must be a size from 1Gi to 16Ti/],
    ['chat:redisStorageSize', '1GB', /chat:redisStorageSize must be a size/],
    // csi-digitalocean creates requiredBytes / GiB (integer division): 1536Mi would be a 1 GiB volume.
    [
      'chat:redisStorageSize',
      '1536Mi',
      /chat:redisStorageSize must be a whole number of GiB .*1536Mi would be a 1 GiB volume\); write 2Gi for at least 1536Mi; got "1536Mi"/,
    ],
    ['chat:redisStorageSize', '2049Mi', /whole number of GiB .*write 3Gi/],
    ['chat:storageClass', 'Do_Block', /chat:storageClass must be a StorageClass name/],
    ['chat:appendfsync', 'no', /chat:appendfsync must be one of everysec, always; got "no"/],
    ['chat:historyLimit', '-1', /chat:historyLimit must be a whole number/],
    ['chat:rateLimitPerMin', 'lots', /chat:rateLimitPerMin must be a whole number from 0/],
    ['chat:image', 'not an image', /chat:image must be a container image reference/],
    ['chat:kubeconfig', '~/.kube/config', /chat:kubeconfig must be the contents of a kubeconfig file/],
    ['chat:registry', 'my-registry', /chat:registry must be an object/],
    [
      'chat:registry',
      '{"tier":"gold"}',
      /chat:registry must be .*tier = starter \| basic \| professional.*chat:registry\.tier/,
    ],
    ['chat:registry', '{"name":"Bad_Name"}', /problem at chat:registry\.name/],
    ['chat:registry', '{"nmae":"x"}', /chat:registry must be an object/],
    ['chat:registry', '{"existing":true}', /chat:registry must be with existing: true, only a name/],
    ['chat:registry', '{"existing":true,"name":"r","tier":"basic"}', /with existing: true, only a name/],
    [
      'chat:domain',
      'Chat.Example.com',
      /chat:domain must be a lowercase fully qualified domain name.*got "Chat.Example.com"/,
    ],
    ['chat:domain', 'https://chat.example.com', /chat:domain must be a lowercase fully qualified domain name/],
    ['chat:domain', 'chat.example.com.', /chat:domain must be .*no trailing dot/],
    ['chat:domain', 'localhost', /chat:domain must be a lowercase fully qualified domain name/],
    ['chat:domain', '203.0.113.10', /chat:domain must be a lowercase fully qualified domain name/],
    ['chat:domain', '*.example.com', /chat:domain must be a lowercase fully qualified domain name/],
  ])('%s = %j', (key, value, message) => {
    expect(problemsOf({ ...base, [key]: value })).toMatch(message);
  });

  it('names a missing chat:persistence and says what each value means', () => {
    expect(problemsOf({})).toMatch(
      /chat:persistence must be set: "false" for memory-only Redis .* "true" for an append-only file/,
    );
  });

  it('rejects unknown chat: keys (typos) and lists the known ones', () => {
    const msg = problemsOf({ ...base, 'chat:replicas': '3' });
    expect(msg).toMatch(/chat:replicas is not a known key; allowed keys are .*chat:appReplicas/);
  });

  it('never echoes a rejected kubeconfig', () => {
    const msg = problemsOf({
      ...base,
      'chat:kubeconfig': 'apiVersion: v1\nusers: [{name: me, user: {token: s3cr3t}}]',
    });
    expect(msg).toMatch(/chat:kubeconfig must be the contents of a kubeconfig file/);
    expect(msg).not.toContain('s3cr3t');
  });

  it('never echoes a rejected Redis password', () => {
    const msg = problemsOf({ ...base, 'chat:redisPassword': 'short pw' });
    expect(msg).toMatch(/chat:redisPassword must be 16 to 128 printable characters/);
    expect(msg).not.toContain('short pw');
  });

  it('checks the autoscaling bounds together', () => {
    expect(problemsOf({ ...base, 'chat:minNodes': '2' })).toMatch(
      /chat:maxNodes must be set as well when chat:minNodes is set/,
    );
    expect(problemsOf({ ...base, 'chat:maxNodes': '2' })).toMatch(
      /chat:minNodes must be set as well when chat:maxNodes is set/,
    );
    expect(problemsOf({ ...base, 'chat:minNodes': '4', 'chat:maxNodes': '2' })).toMatch(
      /chat:minNodes must be at most chat:maxNodes \(2\); got "4"/,
    );
    // With autoscaling a count would reset the autoscaler's size at every later pool update
    // (the provider sends a set node_count on each): refused, whatever its value.
    for (const count of ['2', '5']) {
      expect(problemsOf({ ...base, 'chat:minNodes': '2', 'chat:maxNodes': '3', 'chat:nodeCount': count })).toMatch(
        /chat:nodeCount must be unset when chat:minNodes and chat:maxNodes turn on autoscaling \(`pulumi config rm chat:nodeCount`\)/,
      );
    }
  });

  it('asks for the DigitalOcean token when a cluster is to be created', () => {
    expect(problemsOf(base, () => undefined)).toMatch(
      /digitalocean:token must be set to create a cluster.*DIGITALOCEAN_TOKEN.*chat:kubeconfig/,
    );
  });

  it('chat:dnsZone must hold chat:domain, be given with it, and be given for a two-label domain', () => {
    expect(problemsOf({ ...base, 'chat:domain': 'chat.example.com', 'chat:dnsZone': 'example.org' })).toMatch(
      /chat:dnsZone must be chat:domain \(chat\.example\.com\) itself or a parent of it, such as example\.com; got "example\.org"/,
    );
    // A suffix that is not a whole label is not a parent.
    expect(problemsOf({ ...base, 'chat:domain': 'chat.myexample.com', 'chat:dnsZone': 'example.com' })).toMatch(
      /chat:dnsZone must be/,
    );
    expect(problemsOf({ ...base, 'chat:dnsZone': 'example.com' })).toMatch(
      /chat:dnsZone must be set only together with chat:domain/,
    );
    expect(problemsOf({ ...base, 'chat:domain': 'example.com' })).toMatch(
      /chat:dnsZone must be set when chat:domain has only two labels: the default .* would be "com"; set it to example\.com/,
    );
    expect(problemsOf({ ...base, 'chat:domain': 'chat.example.com', 'chat:dnsZone': 'Example.com' })).toMatch(
      /chat:dnsZone must be a DigitalOcean DNS zone/,
    );
  });

  it('chat:domain on an existing cluster needs the DigitalOcean token, and says why', () => {
    const kubeconfig = { 'chat:kubeconfig': 'apiVersion: v1\nclusters: []\n' };
    const msg = problemsOf({ ...base, ...kubeconfig, 'chat:domain': 'chat.example.com' }, () => undefined);
    expect(msg).toMatch(
      /chat:domain must be used with a DigitalOcean API token, also with chat:kubeconfig: its Let's Encrypt certificate and DNS record are created through the DigitalOcean API/,
    );
    expect(msg).toMatch(/digitalocean:token.*DIGITALOCEAN_TOKEN/);
    expect(msg).not.toMatch(/to create a cluster/);
    // With the token it loads; the kubeconfig still needs no token of its own.
    const c = load({ ...base, ...kubeconfig, 'chat:domain': 'chat.example.com' });
    expect(c.domain).toEqual({ name: 'chat.example.com', zone: 'example.com' });
    expect(c.doToken).toBeUndefined();
  });

  it('reports every problem at once', () => {
    const msg = problemsOf({ 'chat:persistence': 'maybe', 'chat:nodeCount': '0', 'chat:appendfsync': 'sometimes' });
    expect(msg.split('\n').filter((l) => l.startsWith('  - '))).toHaveLength(3);
  });

  it('accepts the documented forms of valid values', () => {
    const c = load({
      'chat:persistence': 'true',
      'chat:region': 'fra1',
      'chat:kubernetesVersion': '1.33.1-do.0',
      'chat:nodeSize': 'g-2vcpu-8gb-intel',
      'chat:minNodes': '1',
      'chat:maxNodes': '3',
      'chat:redisStorageSize': '2048Mi',
      'chat:appendfsync': 'always',
      'chat:image': `registry.example.com:5000/team/chat@sha256:${'0'.repeat(64)}`,
      'chat:registry': '{"name":"reg-1","tier":"basic"}',
      'chat:rateLimitPerMin': '0',
      'chat:domain': 'chat.eu.example.co.uk',
    });
    expect(c).toMatchObject({
      persistence: true,
      autoscale: { minNodes: 1, maxNodes: 3 },
      redisStorageSize: '2048Mi',
      appendfsync: 'always',
      rateLimitPerMin: 0,
      registry: { mode: 'create', name: 'reg-1', tier: 'basic' },
      // The default zone is the domain without its first label.
      domain: { name: 'chat.eu.example.co.uk', zone: 'eu.example.co.uk' },
    });
    // No count with autoscaling: the pool starts at minNodes and the autoscaler sizes it.
    expect(c.nodeCount).toBeUndefined();
    expect(load({ ...base, 'chat:domain': 'example.com', 'chat:dnsZone': 'example.com' }).domain).toEqual({
      name: 'example.com',
      zone: 'example.com',
    });
    expect(load({ ...base, 'chat:domain': 'a.b.example.com', 'chat:dnsZone': 'example.com' }).domain).toEqual({
      name: 'a.b.example.com',
      zone: 'example.com',
    });
  });
});
