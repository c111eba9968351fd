/**
 * The committed charts are a fresh synthesis; versions are semver with
 * appVersion = the weft release = the default image tag; and upgrades are
 * safe: rendering is deterministic, and a trust-anchor change rolls the pods
 * that mount it (checksum annotation) while leaving others alone.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { APP_VERSION, SEMVER } from './chart/versions.js';
import { controlPlaneChart } from './control-plane/chart.js';
import { drift } from './synth-main.js';
import { CHARTS, renderWithValues } from './synth.js';
import { ROOT, ensureTools, helm, objectKey, parseStream, scratch } from './testing/helm.js';
import { makeCa } from './testing/pki.js';

const dirs = scratch();
before(() => ensureTools());
after(() => dirs.cleanup());

test('committed charts/ and docs/values.md equal a fresh synthesis (npm run synth)', () => {
  assert.deepEqual(drift(ROOT), []);
});

test('chart versions are semver and appVersion is the weft release', () => {
  const rootVersion = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  for (const def of CHARTS) {
    const meta = parse(readFileSync(join(ROOT, 'charts', def.name, 'Chart.yaml'), 'utf8')) as { version: string; appVersion: string; apiVersion: string };
    assert.match(meta.version, SEMVER, `${def.name} version`);
    assert.equal(meta.appVersion, rootVersion, `${def.name} appVersion`);
    assert.equal(meta.apiVersion, 'v2');
  }
  assert.equal(APP_VERSION, rootVersion);
});

test('images default to the appVersion tag', () => {
  const objects = renderWithValues(controlPlaneChart, [{ identityTrustAnchorsPEM: '-----BEGIN CERTIFICATE-----\n', certManager: { create: true } }], { name: 'weft', namespace: 'weft' });
  const images = objects
    .filter((o) => o.kind === 'Deployment')
    .map((o) => ((o.spec as { template: { spec: { containers: { image: string }[] } } }).template.spec.containers[0]!.image));
  assert.deepEqual(images.sort(), ['destination', 'identity', 'injector'].map((n) => `ghcr.io/weft-mesh/${n}:${APP_VERSION}`));
});

function podAnnotations(text: string): Map<string, Record<string, string>> {
  const out = new Map<string, Record<string, string>>();
  for (const o of parseStream(text)) {
    if (o.kind !== 'Deployment') continue;
    out.set(objectKey(o), ((o.spec as { template: { metadata: { annotations: Record<string, string> } } }).template.metadata.annotations));
  }
  return out;
}

test('helm upgrade is stable: the same values render the same bytes, a new trust anchor rolls only the pods that use it', () => {
  const chart = join(ROOT, 'charts', 'weft-control-plane');
  // With cert-manager the chart generates nothing, so two renders are byte for byte the same.
  const a = dirs.write('a.yaml', { identityTrustAnchorsPEM: makeCa(dirs.dir, 'a').crt, certManager: { create: true } });
  const b = dirs.write('b.yaml', { identityTrustAnchorsPEM: makeCa(dirs.dir, 'b').crt, certManager: { create: true } });
  const r1 = helm(['template', 'weft', chart, '-n', 'weft', '-f', a]);
  const r2 = helm(['template', 'weft', chart, '-n', 'weft', '-f', a]);
  const r3 = helm(['template', 'weft', chart, '-n', 'weft', '-f', b]);
  for (const r of [r1, r2, r3]) assert.equal(r.status, 0, r.stderr);
  assert.equal(r1.stdout, r2.stdout, 'no random values per render');
  const before = podAnnotations(r1.stdout);
  const afterRotation = podAnnotations(r3.stdout);
  for (const name of ['identity', 'destination', 'injector']) {
    const k = `Deployment/weft/weft-${name}`;
    assert.match(before.get(k)!['checksum/trust-roots']!, /^[0-9a-f]{64}$/);
    assert.notEqual(before.get(k)!['checksum/trust-roots'], afterRotation.get(k)!['checksum/trust-roots'], `${name} rolls`);
  }
});

test('a Prometheus config change rolls Prometheus: its checksum is the hash of the ConfigMap text', async () => {
  const { createHash } = await import('node:crypto');
  const anchor = { identityTrustAnchorsPEM: '-----BEGIN CERTIFICATE-----\n', viz: { tapTls: { externalSecret: true } } };
  const viz = CHARTS.find((c) => c.name === 'weft-viz')!;
  const render = (interval: string) => renderWithValues(viz, [anchor, { prometheus: { scrapeInterval: interval } }], { name: 'weft', namespace: 'weft-viz' });
  const pick = (objs: Record<string, unknown>[]) => {
    const cm = objs.find((o) => o.kind === 'ConfigMap' && (o.metadata as { name: string }).name === 'weft-prometheus-config')!;
    const dep = objs.find((o) => o.kind === 'Deployment' && (o.metadata as { name: string }).name === 'weft-prometheus')!;
    const text = (cm.data as Record<string, string>)['prometheus.yml']!;
    const sum = (dep.spec as { template: { metadata: { annotations: Record<string, string> } } }).template.metadata.annotations['checksum/config'];
    return { text, sum };
  };
  const ten = pick(render('10s'));
  const thirty = pick(render('30s'));
  assert.equal(ten.sum, createHash('sha256').update(ten.text.replace(/\n$/, '')).digest('hex'));
  assert.match(thirty.text, /scrape_interval: "30s"/);
  assert.notEqual(ten.sum, thirty.sum);
});

test('NOTES.txt renders on install with the release namespace and the issuer setup', () => {
  const anchor = dirs.write('notes.yaml', { identityTrustAnchorsPEM: makeCa(dirs.dir, 'notes').crt, certManager: { create: true } });
  const r = helm(['install', 'weft', join(ROOT, 'charts', 'weft-control-plane'), '-n', 'mesh-system', '--dry-run=client', '-f', anchor]);
  assert.equal(r.status, 0, r.stderr);
  const notes = r.stdout.slice(r.stdout.indexOf('NOTES:'));
  assert.match(notes, /installed in namespace mesh-system/);
  assert.match(notes, /cert-manager issues the identity issuer/);
  assert.match(notes, /kubectl -n mesh-system create secret tls weft-trust-anchor/);
  assert.match(notes, /weft check/);
});
