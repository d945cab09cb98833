/**
 * The entry point `pulumi up` runs (Pulumi.yaml → infra/index.ts): it exports the stack
 * outputs, and a wrong configuration stops it before any resource is declared.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FAKE_DO_TOKEN, installMocks, REPO_ROOT, runProgram, stackConfig } from './harness';
import { setTimeout as sleep } from 'node:timers/promises';

describe('Pulumi.yaml', () => {
  const project = fs.readFileSync(path.join(REPO_ROOT, 'Pulumi.yaml'), 'utf8');

  it('is the nodejs project "chat" whose program is infra/index.ts', () => {
    expect(project).toMatch(/^name: chat$/m);
    expect(project).toMatch(/^runtime:\n\s+name: nodejs$/m);
    // The nodejs language host require()s the `main` directory, which resolves index.ts.
    expect(project).toMatch(/^main: infra\/?$/m);
    expect(fs.existsSync(path.join(REPO_ROOT, 'infra', 'index.ts'))).toBe(true);
  });
});

describe('infra/index.ts', () => {
  it('exports url, loadBalancerIp, kubeconfig (secret), clusterName, registryEndpoint, image, persistence and the experiment', async () => {
    let mod: Record<string, unknown> = {};
    const r = await runProgram('stateless', () => {
      jest.isolateModules(() => {
        // eslint-disable-next-line @typescript-eslint/no-require-imports -- a fresh copy, loaded synchronously inside isolateModules
        mod = require('../index');
      });
      return mod;
    });
    expect(Object.keys(r.outputs)).toEqual(
      expect.arrayContaining([
        'url',
        'loadBalancerIp',
        'kubeconfig',
        'clusterName',
        'registryEndpoint',
        'image',
        'persistence',
        'experiment',
      ]),
    );
    expect(r.outputs.url).toBe('http://203.0.113.10');
    expect(r.outputs.loadBalancerIp).toBe('203.0.113.10');
    expect(r.outputs.persistence).toBe('memory');
    expect(r.secretOutputs).toEqual(['kubeconfig']);
    expect(r.resources.length).toBeGreaterThan(10);
  });

  it('stops on a wrong value before declaring any resource, naming the key', async () => {
    const { resources } = installMocks('stateful', {
      ...stackConfig('stateful'),
      'digitalocean:token': FAKE_DO_TOKEN,
      'chat:appendfsync': 'sometimes',
    });
    expect(() =>
      jest.isolateModules(() => {
        // eslint-disable-next-line @typescript-eslint/no-require-imports -- a fresh copy, loaded synchronously inside isolateModules
        require('../index');
      }),
    ).toThrow(/chat:appendfsync must be one of everysec, always; got "sometimes"/);
    await sleep(50);
    expect(resources).toEqual([]);
  });
});
