// How the injected proxy is started: node with the sidecar flags, and an old
// generation capped under the container's memory limit (the chart's
// proxy.memoryLimit or config.weft.io/proxy-memory-limit).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import type { k8s } from '@weft/common/k8s/client';
import { inject, type PodLike } from './inject.js';
import { PROXY_NODE_FLAGS, proxyCommand } from './proxy-spec.js';
import { testMesh } from './testing/test-mesh.js';

const oldSpace = (command: string[]): string | undefined => command.find((a) => a.startsWith('--max-old-space-size='));

test('the proxy command is node, the sidecar flags, then the proxy', () => {
  const command = proxyCommand(undefined);
  assert.deepEqual(command, ['node', ...PROXY_NODE_FLAGS, 'proxy/dist/main.js']);
  assert.ok(PROXY_NODE_FLAGS.includes('--max-semi-space-size=2'));
  assert.ok(PROXY_NODE_FLAGS.includes('--no-maglev'));
  assert.ok(PROXY_NODE_FLAGS.includes('--single-threaded-gc'));
  assert.equal(oldSpace(command), undefined, 'no memory limit, no old-generation cap');
});

test('under a memory limit the old generation is capped 64 MiB below it, never under 32 MiB', () => {
  assert.equal(oldSpace(proxyCommand('256Mi')), '--max-old-space-size=192');
  assert.equal(oldSpace(proxyCommand('1Gi')), '--max-old-space-size=960');
  // 300M = 286.1 MiB.
  assert.equal(oldSpace(proxyCommand('300M')), '--max-old-space-size=222');
  assert.equal(oldSpace(proxyCommand('64Mi')), '--max-old-space-size=32');
  assert.equal(oldSpace(proxyCommand('0')), undefined);
});

test('node accepts every flag of the proxy command (a flag it does not know stops it at start)', () => {
  const flags = proxyCommand('256Mi').slice(1, -1);
  const ok = spawnSync(process.execPath, [...flags, '-e', 'process.stdout.write("up")'], { encoding: 'utf8' });
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal(ok.stdout, 'up');
  const bad = spawnSync(process.execPath, [...flags, '--max-semi-space-sise=2', '-e', '0'], { encoding: 'utf8' });
  assert.notEqual(bad.status, 0, 'a misspelt flag must fail');
});

test("an injected pod's proxy is started with the cap derived from its memory limit override", () => {
  const pod: PodLike = {
    metadata: { name: 'web-1', annotations: { 'weft.io/inject': 'enabled', 'config.weft.io/proxy-memory-limit': '512Mi' } },
    spec: { containers: [{ name: 'app', image: 'nginx' }] },
  };
  const r = inject(pod, testMesh(), { namespace: 'shop', namespaceAnnotations: {} });
  const proxy = [...(r.pod.spec?.initContainers ?? []), ...(r.pod.spec?.containers ?? [])].find((c: k8s.V1Container) => c.name === 'weft-proxy');
  assert.equal(proxy?.resources?.limits?.memory, '512Mi');
  assert.deepEqual(proxy?.command, proxyCommand('512Mi'));
  assert.equal(oldSpace(proxy?.command ?? []), '--max-old-space-size=448');
});
