import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ChatApi } from '../experiment/api';
import type { ChatMessage } from '../src/chat-store';
import { podInfo } from '../experiment/kube';
import { ClusterTarget, kubeErrorText, type KubeClient, type PodInfo } from '../experiment/cluster-target';
import { resolveClusterSettings, type ClusterSetupDeps } from '../experiment/cluster-setup';
import { parseOutputs, readStackOutputs } from '../experiment/outputs';
import { runCycles } from '../experiment/runner';
import { TargetError } from '../experiment/target';
import { verdict } from '../experiment/verdict';

/**
 * A deployed stack in miniature: a stub chat service on 127.0.0.1 (the load balancer)
 * and a stub Kubernetes API whose "Redis pod" can be deleted and replaced. Deleting the
 * pod takes Redis away (POST/GET answer 503, /readyz 503) until the replacement is Ready;
 * a persistent stack keeps the history, a memory-only one starts empty.
 */
class FakeDeployment {
  history: ChatMessage[] = [];
  redisUp = true;
  pods: PodInfo[] = [pod('redis-deployment-aaa-1', true)];
  calls: string[] = [];
  /** How long the replacement takes to become Ready; Infinity = never. */
  replacementMs = 150;
  /** The replacement pod's log. */
  log = '1:M * DB loaded from append only file: 0.001 seconds\n1:M * Ready to accept connections tcp\n';
  /** Messages stored in the last `loseLastMs` before a kill vanish (an un-fsynced AOF tail). */
  loseLastMs = 0;
  historyLimit = 1000;
  appended = 0;
  /** As the service records them: the Redis run that answers, and the runs that stored messages. */
  runId = 'run-0';
  runs: { runId: string; startPosition: number }[] = [];
  /** Messages that land in the history at the kill without the experiment's ack (other users, or answers lost as Redis died). */
  unacknowledgedAtKill = 0;
  private server = http.createServer((req, res) => this.handle(req, res));
  private seq = 0;
  private runSeq = 0;
  private storedAt = new Map<string, number>();
  private timers: NodeJS.Timeout[] = [];

  constructor(readonly persistent: boolean) {}

  async listen(): Promise<string> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    this.timers.forEach(clearTimeout);
    await new Promise((r) => this.server.close(r));
  }

  readonly kube: KubeClient = {
    listPods: (namespace, selector) => {
      this.calls.push(`list ${namespace} ${selector}`);
      return Promise.resolve(
        selector === 'app=redis' ? this.pods.map((p) => ({ ...p })) : [pod('chat-1', true), pod('chat-2', true)],
      );
    },
    deletePods: (namespace, selector) => {
      this.calls.push(`delete ${namespace} ${selector}`);
      const now = Date.now();
      this.redisUp = false;
      const kept = this.persistent ? this.history.filter((m) => now - this.storedAt.get(m.id)! >= this.loseLastMs) : [];
      // Like Redis: the append counter comes back as far as the history does.
      this.appended = this.persistent ? this.appended - (this.history.length - kept.length) : 0;
      this.history = kept;
      // A run's record is written with its first message: it survives exactly when that message does.
      this.runs = this.persistent ? this.runs.filter((r) => r.startPosition < this.appended) : [];
      this.runId = `run-${++this.runSeq}`;
      for (let i = 0; i < this.unacknowledgedAtKill; i++) {
        this.store({ id: `other-${i}`, author: 'someone else', text: 'hi', replica: 'chat-2' });
      }
      for (const p of this.pods) p.terminating = true;
      const fresh = pod(`redis-deployment-aaa-${++this.seq + 1}`, false);
      fresh.waitingReason = 'ContainerCreating';
      this.timers.push(setTimeout(() => (this.pods = [fresh]), 20));
      if (Number.isFinite(this.replacementMs)) {
        this.timers.push(
          setTimeout(() => {
            fresh.ready = true;
            fresh.phase = 'Running';
            fresh.waitingReason = undefined;
            this.redisUp = true;
          }, this.replacementMs),
        );
      }
      return Promise.resolve();
    },
    readPodLog: (namespace, name, container) => {
      this.calls.push(`log ${namespace} ${name} ${container}`);
      return Promise.resolve(this.log);
    },
  };

  /** Stores a message as the append script does: recording its run (once per run) and position. */
  private store(m: Pick<ChatMessage, 'id' | 'author' | 'text' | 'replica'>): ChatMessage {
    if (this.runs[this.runs.length - 1]?.runId !== this.runId) {
      this.runs.push({ runId: this.runId, startPosition: this.appended });
    }
    const stored: ChatMessage = { ...m, at: new Date().toISOString(), run: this.runId, position: this.appended };
    this.history.push(stored);
    this.appended += 1;
    this.history = this.history.slice(-this.historyLimit);
    this.storedAt.set(stored.id, Date.now());
    return stored;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/readyz') return send(this.redisUp ? 200 : 503, {});
    if (url.pathname === '/api/status') return send(200, { historyLimit: this.historyLimit });
    if (url.pathname !== '/api/messages') return send(404, { error: 'not found' });
    if (!this.redisUp) return send(503, { error: 'Redis is unavailable' });
    if (req.method === 'GET') {
      // As the service: pages of at most ?limit= (100 by default), ?before= an absolute position.
      const limit = Number(url.searchParams.get('limit') ?? 100);
      const first = this.appended - this.history.length;
      const before = url.searchParams.has('before') ? Number(url.searchParams.get('before')) : this.appended;
      const stop = Math.max(0, Math.min(before, this.appended) - first);
      const start = Math.max(0, stop - limit);
      const last = this.runs[this.runs.length - 1];
      const startPosition = last?.runId === this.runId ? last.startPosition : this.appended;
      return send(200, {
        messages: this.history.slice(start, stop),
        before: start > 0 ? String(first + start) : null,
        oldest: first,
        redis: { runId: this.runId, startPosition, runs: this.runs },
      });
    }
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const { author, text } = JSON.parse(body);
      send(201, this.store({ id: `id-${this.history.length}-${Math.random()}`, author, text, replica: 'chat-1' }));
    });
  }
}

function pod(name: string, ready: boolean): PodInfo {
  return {
    name,
    uid: `uid-${name}`,
    ready,
    phase: ready ? 'Running' : 'Pending',
    terminating: false,
    containers: ['redis'],
  };
}

async function setup(persistent: boolean, tweak: (d: FakeDeployment) => void = () => {}) {
  const d = new FakeDeployment(persistent);
  tweak(d);
  const url = await d.listen();
  const api = new ChatApi(url);
  const target = new ClusterTarget({
    url,
    kube: d.kube,
    api,
    persistence: persistent,
    appendfsync: persistent ? 'always' : null,
    readyTimeoutMs: 1000,
    pollMs: 20,
  });
  return { d, url, api, target };
}

const fast = { settleMs: 10, warmupMs: 400, tailMs: 100, recoveryTimeoutMs: 5000 };

describe('cluster target against a stubbed Kubernetes API and load balancer', () => {
  let d: FakeDeployment | undefined;
  afterEach(async () => {
    await d?.close();
    d = undefined;
  });

  it('stateful: deletes the app=redis pods, waits for the new pod, finds the AOF line, reads the history back', async () => {
    const s = await setup(true);
    d = s.d;
    const info = await s.target.start();
    expect(info).toMatchObject({ url: s.url, persistence: true, appendfsync: 'always' });
    const cycles = await runCycles(s.target, s.api, { messages: 5, cycles: 2, load: false, rate: 100, ...fast });
    expect(cycles.map((c) => [c.acknowledged, c.survived, c.lost, c.aofLoaded])).toEqual([
      [5, 5, 0, true],
      [5, 5, 0, true],
    ]);
    expect(cycles[0].redisRecoveryMs).toBeGreaterThanOrEqual(150);
    expect(cycles[0].appRecoveryMs).toBeGreaterThanOrEqual(cycles[0].redisRecoveryMs);
    expect(s.d.calls).toContain('delete default app=redis');
    // The log read is the replacement's (a new uid), from its redis container.
    expect(s.d.calls).toContain('log default redis-deployment-aaa-2 redis');
    expect(s.d.calls).toContain('log default redis-deployment-aaa-3 redis');
    expect(s.d.history).toHaveLength(10); // both cycles' messages
    expect(verdict({ persistence: true, appendfsync: 'always', cycles }).ok).toBe(true);
  });

  it('stateless: the replacement starts empty and without the AOF line; the verdict passes', async () => {
    const s = await setup(false, (f) => (f.log = '1:M * Ready to accept connections tcp\n'));
    d = s.d;
    const cycles = await runCycles(s.target, s.api, { messages: 4, cycles: 2, load: false, rate: 100, ...fast });
    expect(cycles.map((c) => [c.acknowledged, c.survived, c.aofLoaded])).toEqual([
      [4, 0, false],
      [4, 0, false],
    ]);
    expect(verdict({ persistence: false, appendfsync: null, cycles }).ok).toBe(true);
  });

  it('messages the experiment did not write do not push its own out of the read (nothing counted lost that is there)', async () => {
    const s = await setup(true, (f) => (f.unacknowledgedAtKill = 40));
    d = s.d;
    const cycles = await runCycles(s.target, s.api, { messages: 5, cycles: 1, load: false, rate: 100, ...fast });
    expect(cycles[0]).toMatchObject({ acknowledged: 5, survived: 5, lost: 0 });
  });

  it('a stateful replacement that did not load the AOF fails the verdict', async () => {
    const s = await setup(true, (f) => (f.log = '1:M * Ready to accept connections tcp\n'));
    d = s.d;
    const cycles = await runCycles(s.target, s.api, { messages: 3, cycles: 1, load: false, rate: 100, ...fast });
    expect(cycles[0]).toMatchObject({ survived: 3, aofLoaded: false });
    expect(verdict({ persistence: true, appendfsync: 'always', cycles }).ok).toBe(false);
  });

  it('--load: counts acknowledged messages lost with an un-fsynced tail and judges them against the last second', async () => {
    // The stub loses what was stored in the last 300 ms before the kill.
    const s = await setup(true, (f) => (f.loseLastMs = 300));
    d = s.d;
    const cycles = await runCycles(s.target, s.api, {
      messages: 5,
      cycles: 1,
      load: true,
      rate: 100,
      ...fast,
      warmupMs: 800,
    });
    const [c] = cycles;
    expect(c.acknowledged).toBeGreaterThan(30);
    expect(c.lost).toBeGreaterThan(5);
    expect(c.lost).toBeLessThanOrEqual(c.lastSecondAcks);
    expect(c.rejected).toBeGreaterThan(0); // 503s while Redis was away
    expect(c.survived + c.lost).toBe(c.acknowledged);
    expect(verdict({ persistence: true, appendfsync: 'everysec', cycles }).ok).toBe(true);
    expect(verdict({ persistence: true, appendfsync: 'always', cycles }).ok).toBe(false);
  });

  it('a pod that never becomes Ready: a clear timeout error naming the pod and its state', async () => {
    const s = await setup(true, (f) => (f.replacementMs = Infinity));
    d = s.d;
    await s.target.start();
    const err = await s.target.killRedis().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TargetError);
    expect((err as Error).message).toMatch(
      /no new Redis pod \(app=redis, namespace default\) became Ready within 1 s after deleting redis-deployment-aaa-1; new pods: redis-deployment-aaa-2 \(Pending, ContainerCreating, not Ready\)/,
    );
  });

  it('start() refuses a stack with no Ready Redis pod, or a service that is not ready', async () => {
    const s = await setup(true, (f) => (f.pods = []));
    d = s.d;
    await expect(s.target.start()).rejects.toThrow(/no Ready Redis pod \(app=redis\) in namespace default: none/);
    s.d.pods = [pod('redis-1', true)];
    s.d.redisUp = false;
    await expect(s.target.start()).rejects.toThrow(/\/readyz does not answer 200/);
  });

  it('Kubernetes API errors become one readable line (expired DOKS token hint on 401)', async () => {
    const s = await setup(true);
    d = s.d;
    s.d.kube.listPods = () =>
      Promise.reject(Object.assign(new Error('HTTP-Code: 401'), { code: 401, body: '{"message":"Unauthorized"}' }));
    await expect(s.target.start()).rejects.toThrow(
      /Kubernetes: cannot list pods app=redis in namespace default: HTTP 401: Unauthorized \(.*7 days/,
    );
    expect(kubeErrorText(new Error('connect ECONNREFUSED'))).toBe('connect ECONNREFUSED');
  });
});

describe('cluster settings: flags, then stack outputs, then the stack file', () => {
  const deps = (over: Partial<ClusterSetupDeps> = {}): ClusterSetupDeps & { outputCalls: string[] } => {
    const outputCalls: string[] = [];
    return {
      outputCalls,
      readOutputs: (stack) => {
        outputCalls.push(stack);
        return Promise.resolve({
          url: 'http://203.0.113.10',
          kubeconfig: 'kind: Config',
          persistence: true,
          appendfsync: 'everysec',
        });
      },
      readFile: (f) => `kubeconfig from ${f}`,
      stackFile: () => ({ persistent: true, appendfsync: 'always' }),
      ...over,
    };
  };

  it('--url and --kubeconfig: no Pulumi CLI needed; persistence from the stack file', async () => {
    const d = deps();
    const s = await resolveClusterSettings({ stack: 'stateful', url: 'http://lb', kubeconfig: '/k.yaml' }, d);
    expect(s).toEqual({
      url: 'http://lb',
      kubeconfig: 'kubeconfig from /k.yaml',
      persistence: true,
      appendfsync: 'always',
      source: 'flags',
    });
    expect(d.outputCalls).toEqual([]);
  });

  it('stack outputs fill in what the flags do not give, and win over the stack file', async () => {
    const s = await resolveClusterSettings({ stack: 'stateful' }, deps());
    expect(s).toMatchObject({
      url: 'http://203.0.113.10',
      kubeconfig: 'kind: Config',
      persistence: true,
      appendfsync: 'everysec',
    });
  });

  it('clear errors: no outputs, no url output, an --appendfsync the deployed stack does not use', async () => {
    await expect(
      resolveClusterSettings(
        { stack: 'stateful' },
        deps({ readOutputs: () => Promise.reject(new Error('the Pulumi CLI is not installed')) }),
      ),
    ).rejects.toThrow('the Pulumi CLI is not installed (or pass --url <load balancer URL> and --kubeconfig <file>)');
    await expect(
      resolveClusterSettings({ stack: 'stateless' }, deps({ readOutputs: () => Promise.resolve({}) })),
    ).rejects.toThrow(/stack "stateless" has no "url" output .*pulumi up -s stateless/);
    await expect(resolveClusterSettings({ stack: 'stateful', appendfsync: 'always' }, deps())).rejects.toThrow(
      /--appendfsync always does not match the deployed stack's appendfsync everysec/,
    );
  });

  it('reads `pulumi stack output --json --show-secrets -s <stack>` and its "memory"/"aof" persistence', async () => {
    const seen: string[][] = [];
    const out = await readStackOutputs('stateless', '/repo', (cmd, args) => {
      seen.push([cmd, ...args]);
      return Promise.resolve({
        code: 0,
        stderr: '',
        stdout: JSON.stringify({ url: 'http://x', kubeconfig: 'k', persistence: 'memory', appendfsync: null }),
      });
    });
    expect(seen).toEqual([['pulumi', 'stack', 'output', '--json', '--show-secrets', '-s', 'stateless']]);
    expect(out).toEqual({ url: 'http://x', kubeconfig: 'k', persistence: false });
    expect(parseOutputs({ persistence: 'aof', appendfsync: 'always' })).toEqual({
      persistence: true,
      appendfsync: 'always',
    });
    await expect(
      readStackOutputs('stateful', '/repo', () =>
        Promise.resolve({
          code: 255,
          stdout: '',
          stderr: "error: no stack named 'stateful' found",
        }),
      ),
    ).rejects.toThrow(/cannot read the outputs of stack "stateful".*no stack named/);
    await expect(
      readStackOutputs('stateful', '/repo', async () =>
        Promise.reject(Object.assign(new Error('spawn pulumi ENOENT'), { code: 'ENOENT' })),
      ),
    ).rejects.toThrow(/the Pulumi CLI is not installed/);
  });
});

describe('podInfo: the fields of a V1Pod the cluster target reads', () => {
  it('Ready condition, uid, terminating, containers, waiting reason', () => {
    expect(
      podInfo({
        metadata: { name: 'redis-deployment-x', uid: 'u1', deletionTimestamp: new Date() },
        spec: { containers: [{ name: 'redis' }] },
        status: {
          phase: 'Running',
          conditions: [{ type: 'Ready', status: 'True' }],
          containerStatuses: [
            { name: 'redis', image: 'redis', imageID: '', ready: true, restartCount: 0, state: { running: {} } },
          ],
        },
      }),
    ).toEqual({
      name: 'redis-deployment-x',
      uid: 'u1',
      ready: true,
      phase: 'Running',
      terminating: true,
      containers: ['redis'],
      waitingReason: undefined,
    });
    expect(
      podInfo({
        metadata: { name: 'p', uid: 'u2' },
        status: {
          phase: 'Pending',
          conditions: [{ type: 'Ready', status: 'False' }],
          containerStatuses: [
            {
              name: 'redis',
              image: '',
              imageID: '',
              ready: false,
              restartCount: 0,
              state: { waiting: { reason: 'ContainerCreating' } },
            },
          ],
        },
      }),
    ).toMatchObject({ ready: false, terminating: false, waitingReason: 'ContainerCreating', containers: [] });
  });
});
