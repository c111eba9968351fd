// The versions of weft's CRDs as `helm template` renders the weft-crds chart
// (docs/crds.md): CRD_VERSION served and stored, CRD_DEPRECATED_VERSION served,
// deprecated with a warning naming the new version, never stored; one schema
// for both, so conversion is None.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CRD_DEPRECATED_VERSION, CRD_VERSION, WEFT_CRDS } from '@weft/api/names';
import { ensureTools, helm, parseStream } from '../testing/helm.js';
import { crdVersions } from './chart.js';

interface Version {
  name: string;
  served: boolean;
  storage: boolean;
  deprecated?: boolean;
  deprecationWarning?: string;
  schema: unknown;
  additionalPrinterColumns: unknown;
}
interface Crd {
  metadata: { name: string };
  spec: { group: string; names: { kind: string; plural: string }; versions: Version[]; conversion?: { strategy: string } };
}

function renderedWeftCrds(): Crd[] {
  ensureTools();
  const r = helm(['template', 'weft-crds', 'charts/weft-crds']);
  assert.equal(r.status, 0, r.stderr);
  return (parseStream(r.stdout) as unknown as Crd[]).filter((o) => !o.metadata.name.endsWith('.gateway.networking.k8s.io'));
}

test('the chart renders exactly the CRDs of WEFT_CRDS, named <plural>.<group>', () => {
  const names = renderedWeftCrds().map((c) => `${c.metadata.name} ${c.spec.names.kind}`).sort();
  assert.deepEqual(names, WEFT_CRDS.map((c) => `${c.plural}.${c.group} ${c.kind}`).sort());
});

test(`every weft CRD serves ${CRD_VERSION} (storage) and ${CRD_DEPRECATED_VERSION} (deprecated, not storage) with one schema and conversion None`, () => {
  assert.notEqual(CRD_VERSION, CRD_DEPRECATED_VERSION);
  for (const crd of renderedWeftCrds()) {
    const at = crd.metadata.name;
    assert.deepEqual(crd.spec.versions.map((v) => v.name), [CRD_VERSION, CRD_DEPRECATED_VERSION], at);
    const [current, old] = crd.spec.versions as [Version, Version];
    assert.deepEqual([current.served, current.storage, current.deprecated ?? false], [true, true, false], `${at} ${CRD_VERSION}`);
    assert.deepEqual([old.served, old.storage, old.deprecated], [true, false, true], `${at} ${CRD_DEPRECATED_VERSION}`);
    assert.equal(old.deprecationWarning, `${crd.spec.group}/${CRD_DEPRECATED_VERSION} ${crd.spec.names.kind} is deprecated; use ${crd.spec.group}/${CRD_VERSION} ${crd.spec.names.kind}`);
    assert.equal(crd.spec.versions.filter((v) => v.storage).length, 1, `${at}: exactly one storage version`);
    // Conversion None is only correct while both versions have the same schema.
    assert.deepEqual(old.schema, current.schema, `${at}: same schema`);
    assert.deepEqual(old.additionalPrinterColumns, current.additionalPrinterColumns, `${at}: same columns`);
    assert.deepEqual(crd.spec.conversion, { strategy: 'None' }, at);
  }
});

test('crdVersions builds both versions from the one spec it is given', () => {
  const spec = { type: 'object', properties: { port: { type: 'integer' } } };
  const [current, old] = crdVersions({ group: 'g.example', kind: 'K', spec, columns: [] }) as unknown as [Version, Version];
  const specOf = (v: Version) => (v.schema as { openAPIV3Schema: { properties: { spec: unknown } } }).openAPIV3Schema.properties.spec;
  assert.equal(specOf(current), spec);
  assert.equal(specOf(old), spec);
});
