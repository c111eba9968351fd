/**
 * The chart and the injector cannot disagree: the injector Deployment's env,
 * as the chart renders it, is parsed by the injector's own loadMeshConfig
 * (injector/src/mesh-config.ts), which is what the webhook runs at start-up.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadMeshConfig, MESH_CONFIG_VARIABLES, type MeshConfig } from '@weft/injector/mesh-config';
import { loadInjectorTraceConfig } from '@weft/injector/config';
import { renderWithValues } from '../synth.js';
import { controlPlaneChart } from './chart.js';
import { PROXY_VALUE_ENV } from './injector.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const anchor = { identityTrustAnchorsPEM: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n', certManager: { create: true } };
const sources = { trustAnchorsPem: 'anchors', kubernetesVersion: 'v1.31.0' };

/** The injector container's env as the kubelet would give it (namespace, pod and node names from the downward API). */
function injectorEnv(values: unknown = {}): Record<string, string> {
  const objs = renderWithValues(controlPlaneChart, [anchor, values], { name: 'weft', namespace: 'weft' }) as Obj[];
  const dep = objs.find((o) => o.kind === 'Deployment' && o.metadata.name === 'weft-injector')!;
  const env: Record<string, string> = {};
  for (const e of dep.spec.template.spec.containers[0].env as Obj[]) {
    if (e.value !== undefined) env[e.name] = e.value;
    else if (e.valueFrom?.fieldRef?.fieldPath === 'metadata.namespace') env[e.name] = 'weft';
    else if (e.valueFrom?.fieldRef?.fieldPath === 'metadata.name') env[e.name] = 'weft-injector-0';
    else if (e.valueFrom?.fieldRef?.fieldPath === 'spec.nodeName') env[e.name] = 'node-a';
    else assert.fail(`unexpected env source ${JSON.stringify(e)}`);
  }
  return env;
}

const withoutImage = (m: MeshConfig) => ({ ...m, proxy: { ...m.proxy, image: undefined, version: undefined } });

test('the chart sets every variable of the injector\'s mesh config (the Kubernetes version aside: the injector asks the API server)', () => {
  const env = injectorEnv();
  const notFromChart = ['WEFT_INJECTOR_KUBERNETES_VERSION'];
  assert.deepEqual(MESH_CONFIG_VARIABLES.filter((name) => !(name in env) && !notFromChart.includes(name)), []);
  for (const name of Object.values(PROXY_VALUE_ENV)) assert.ok(MESH_CONFIG_VARIABLES.includes(name), `${name} is read by the injector`);
});

test('the chart\'s defaults are the injector\'s own defaults (images aside: the chart names its registry and tag)', () => {
  assert.deepEqual(withoutImage(loadMeshConfig(injectorEnv(), sources)), withoutImage(loadMeshConfig({}, sources)));
});

test('every proxy.* value reaches the injector\'s mesh config as set', () => {
  const proxy = {
    logLevel: 'debug', logFormat: 'plain', cpuRequest: '20m', cpuLimit: '1', memoryRequest: '32Mi', memoryLimit: '1Gi',
    opaquePorts: '3306', await: false, awaitTimeout: '5m', detectTimeout: '2s', workers: 2, skipInboundPorts: '9000-9001', skipOutboundPorts: '5432',
    skipInboundSubnets: '10.244.0.0/16', skipOutboundSubnets: '192.168.0.0/16,fd00::/8', identityTokenExpirationSeconds: 3600,
    cniEnabled: true, traceCollector: 'http://collector.tracing:4318', traceSampling: '0.25', nativeSidecar: 'disabled',
    connectTimeout: '3s', tlsHandshakeTimeout: '5s', keepalive: '30s', userTimeout: '1m', peerPingInterval: '2500ms',
  };
  assert.deepEqual(Object.keys(proxy).sort(), Object.keys(PROXY_VALUE_ENV).sort(), 'every proxy value is exercised here');
  const m = loadMeshConfig(injectorEnv({ proxy, image: { registry: 'registry.example.com/weft', tag: 'v9' } }), sources);
  assert.deepEqual(
    { ...m.proxy, defaultInboundPolicy: undefined },
    {
      image: 'registry.example.com/weft/proxy', version: 'v9', logLevel: 'debug', logFormat: 'plain',
      cpuRequest: '20m', cpuLimit: '1', memoryRequest: '32Mi', memoryLimit: '1Gi', opaquePorts: [3306],
      await: false, awaitTimeoutSeconds: 300, detectTimeout: '2s', workers: 2, skipInboundPorts: [9000, 9001], skipOutboundPorts: [5432],
      skipInboundSubnets: [{ family: 'ipv4', cidr: '10.244.0.0/16' }],
      skipOutboundSubnets: [{ family: 'ipv4', cidr: '192.168.0.0/16' }, { family: 'ipv6', cidr: 'fd00::/8' }],
      traceCollector: 'http://collector.tracing:4318', traceSampling: '0.25', nativeSidecar: false, defaultInboundPolicy: undefined,
      connections: { connectTimeout: '3s', tlsHandshakeTimeout: '5s', keepalive: '30s', userTimeout: '1m', peerPingInterval: '2500ms' },
    },
  );
  assert.equal(m.tokenExpirationSeconds, 3600);
  assert.equal(m.cniMode, true);
  // Empty resource values mean "none" on both sides.
  assert.equal(loadMeshConfig(injectorEnv({ proxy: { cpuRequest: '', memoryLimit: '' } }), sources).proxy.cpuRequest, undefined);
});

test('the values that are not under proxy.* reach the injector too: trust domain, default inbound policy, image override, viz namespace', () => {
  const m = loadMeshConfig(injectorEnv({ identityTrustDomain: 'example.org', destination: { defaultInboundPolicy: 'deny' }, proxyInjector: { allowProxyImageOverride: true, vizNamespace: 'viz' }, image: { pullPolicy: 'Always' } }), sources);
  assert.equal(m.trustDomain, 'example.org');
  assert.equal(m.proxy.defaultInboundPolicy, 'deny');
  assert.equal(m.allowProxyImageOverride, true);
  assert.equal(m.tapClientId, 'weft-viz.viz.serviceaccount.identity.weft.example.org');
  assert.equal(m.imagePullPolicy, 'Always');
});

test("controlPlaneTracing reaches the injector's own tracing (not the proxies'), with its pod and node as the resource; empty leaves it off", () => {
  assert.equal(loadInjectorTraceConfig(injectorEnv()), undefined);
  const t = loadInjectorTraceConfig(injectorEnv({ controlPlaneTracing: { collector: 'weft-jaeger.weft-viz:4318', sampling: '0.5' } }))!;
  assert.equal(t.collectorUrl, 'http://weft-jaeger.weft-viz:4318/v1/traces');
  assert.equal(t.sampleRate, 0.5);
  assert.deepEqual(t.resource, { 'service.name': 'injector', 'k8s.namespace.name': 'weft', 'k8s.pod.name': 'weft-injector-0', 'k8s.node.name': 'node-a' });
  assert.equal(loadMeshConfig(injectorEnv({ controlPlaneTracing: { collector: 'weft-jaeger.weft-viz:4318' } }), sources).proxy.traceCollector, undefined, 'the proxies are not traced by it');
});
