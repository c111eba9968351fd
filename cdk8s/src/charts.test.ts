/**
 * The invariant of the templating layer, with the real helm: for every case of
 * the values matrix, `helm template` renders exactly the objects the cdk8s
 * synthesis produces with the same values (parsed and compared object for
 * object); `helm lint --strict` passes; and every rendered object is valid
 * against the Kubernetes OpenAPI schemas.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { ChartDefinition } from './chart/definition.js';
import { crdsChart } from './crds/chart.js';
import { controlPlaneChart } from './control-plane/chart.js';
import { vizChart } from './viz/chart.js';
import { renderWithValues } from './synth.js';
import { GENERATED_MARK } from './template/expr.js';
import { ROOT, ensureTools, helm, objectKey, parseStream, scratch } from './testing/helm.js';
import { validateObject } from './testing/kube-schema.js';
import { RELEASE, controlPlaneMatrix, crdsMatrix, vizMatrix, type MatrixCase, type Pems } from './testing/matrix.js';
import { makeCa } from './testing/pki.js';

const dirs = scratch();
let pems: Pems;

before(() => {
  ensureTools();
  const ca = makeCa(dirs.dir, 'root.weft.test');
  pems = { anchor: ca.crt, anchorKey: ca.key };
});
after(() => dirs.cleanup());

function byKey(objects: Record<string, unknown>[]): Map<string, Record<string, unknown>> {
  const m = new Map<string, Record<string, unknown>>();
  for (const o of objects) {
    const k = objectKey(o);
    assert.ok(!m.has(k), `duplicate object ${k}`);
    m.set(k, o);
  }
  return m;
}

/**
 * helm's object with each value the synthesis shows as generated (genCA/genSignedCert at install time,
 * `⟨generated:$name⟩`) replaced by that placeholder, after checking helm rendered a non-empty string there.
 */
function acceptGenerated(fromHelm: unknown, fromCdk8s: unknown, where: string): unknown {
  if (typeof fromCdk8s === 'string' && fromCdk8s.includes(GENERATED_MARK)) {
    assert.ok(typeof fromHelm === 'string' && fromHelm.length > 0, `${where}: helm rendered no generated value`);
    return fromCdk8s;
  }
  if (Array.isArray(fromCdk8s) && Array.isArray(fromHelm)) return fromHelm.map((x, i) => acceptGenerated(x, fromCdk8s[i], `${where}[${i}]`));
  if (fromCdk8s && fromHelm && typeof fromCdk8s === 'object' && typeof fromHelm === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(fromHelm)) out[k] = acceptGenerated(x, (fromCdk8s as Record<string, unknown>)[k], `${where}.${k}`);
    return out;
  }
  return fromHelm;
}

function checkChart(def: ChartDefinition, namespace: string, cases: () => MatrixCase[]): void {
  describe(def.name, () => {
    test('helm template equals the cdk8s synthesis, lints strictly and validates, for every values case', async (t) => {
      const chartDir = join(ROOT, 'charts', def.name);
      for (const c of cases()) {
        await t.test(c.name, async () => {
          const files = c.files.map((f, i) => dirs.write(`${def.name}-${c.name.replace(/\W+/g, '-')}-${i}.yaml`, f));
          const valueArgs = files.flatMap((f) => ['-f', f]);
          const rendered = helm(['template', RELEASE, chartDir, '--namespace', namespace, ...valueArgs]);
          assert.equal(rendered.status, 0, rendered.stderr);
          const fromHelm = byKey(parseStream(rendered.stdout));
          const fromCdk8s = byKey(renderWithValues(def, c.files, { name: RELEASE, namespace }));
          assert.deepEqual([...fromHelm.keys()].sort(), [...fromCdk8s.keys()].sort(), 'the same objects');
          for (const [k, o] of fromCdk8s) assert.deepEqual(acceptGenerated(fromHelm.get(k), o, k), o, `object ${k}`);
          for (const [k, o] of fromHelm) {
            try {
              await validateObject(o);
            } catch (err) {
              assert.fail(`${k} is not a valid Kubernetes object: ${(err as Error).message}`);
            }
          }
          const lint = helm(['lint', '--strict', chartDir, '--namespace', namespace, ...valueArgs]);
          assert.equal(lint.status, 0, lint.stdout + lint.stderr);
        });
      }
    });
  });
}

checkChart(crdsChart, 'default', crdsMatrix);
checkChart(controlPlaneChart, 'weft', () => controlPlaneMatrix(pems));
checkChart(vizChart, 'weft-viz', () => vizMatrix(pems));
