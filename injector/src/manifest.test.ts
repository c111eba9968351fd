import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { formatSummary, transformManifest, ManifestError, type ManifestAction } from './manifest.js';
import { OVERRIDES } from './overrides.js';
import { TESTDATA, testMesh } from './testing/test-mesh.js';

// Golden files: testdata/<case>.in.{yaml,json} → <case>.out.* + <case>.summary.txt.
// Regenerate only on purpose: WEFT_UPDATE_GOLDEN=1 node ci/unit.mjs injector
const UPDATE = process.env.WEFT_UPDATE_GOLDEN === '1';

/** Mesh variants chosen by case name; everything else uses the default test mesh. */
function actionFor(name: string): Extract<ManifestAction, { action: 'inject' }> {
  if (name === 'legacy-sidecar') return { action: 'inject', mesh: testMesh({ WEFT_INJECTOR_KUBERNETES_VERSION: 'v1.28.4' }) };
  if (name === 'cni') return { action: 'inject', mesh: testMesh({ WEFT_INJECTOR_CNI_ENABLED: 'true' }) };
  // The override cases show what each value does; image-override-refused shows the default refusal.
  if (name.startsWith('overrides-')) return { action: 'inject', mesh: testMesh({ WEFT_INJECTOR_ALLOW_PROXY_IMAGE_OVERRIDE: 'true' }) };
  return { action: 'inject', mesh: testMesh() };
}

const cases = readdirSync(TESTDATA)
  .map((f) => /^(.+)\.in\.(yaml|json)$/.exec(f))
  .filter((m): m is RegExpExecArray => m !== null)
  .map((m) => ({ name: m[1]!, ext: m[2]!, input: readFileSync(`${TESTDATA}${m[0]}`, 'utf8') }));

function golden(path: string, actual: string): void {
  if (UPDATE) writeFileSync(path, actual);
  assert.ok(existsSync(path), `${path} is missing; create it with WEFT_UPDATE_GOLDEN=1`);
  assert.equal(actual, readFileSync(path, 'utf8'), `${path} differs (review, then WEFT_UPDATE_GOLDEN=1 to accept)`);
}

test('golden cases cover every workload kind', () => {
  for (const kind of ['pod', 'deployment', 'statefulset', 'daemonset', 'job', 'cronjob', 'replicaset', 'list', 'stream']) {
    assert.ok(cases.some((c) => c.name === kind), `no golden case ${kind}`);
  }
});

for (const c of cases) {
  const action = actionFor(c.name);
  const out = `${TESTDATA}${c.name}.out.${c.ext}`;

  test(`inject golden: ${c.name}`, () => {
    const r = transformManifest(c.input, action);
    golden(out, r.output);
    golden(`${TESTDATA}${c.name}.summary.txt`, formatSummary(r.summaries));
  });

  test(`inject is idempotent: ${c.name}`, () => {
    const once = transformManifest(c.input, action).output;
    const twice = transformManifest(once, action);
    assert.equal(twice.output, once);
    for (const s of twice.summaries) assert.doesNotMatch(s.result, /^(injected|re-injected)/, `${s.object} changed on the second inject`);
  });

  test(`uninject restores the input exactly: ${c.name}`, () => {
    const injected = transformManifest(c.input, action).output;
    const back = transformManifest(injected, { action: 'uninject' }).output;
    if (c.ext === 'json') assert.deepEqual(JSON.parse(back), JSON.parse(c.input));
    else assert.equal(back, c.input);
    assert.deepEqual(
      parseAllDocuments(back).map((d) => d.toJS()),
      parseAllDocuments(c.input).map((d) => d.toJS()),
    );
  });
}

test('every override annotation has a valid and an invalid golden case', () => {
  const valid = readFileSync(`${TESTDATA}overrides-valid.in.yaml`, 'utf8');
  const invalid = readFileSync(`${TESTDATA}overrides-invalid.in.yaml`, 'utf8');
  for (const key of Object.keys(OVERRIDES)) {
    assert.match(valid, new RegExp(`config\\.weft\\.io/${key}:`), `no valid case for ${key}`);
    assert.match(invalid, new RegExp(`config\\.weft\\.io/${key}:`), `no invalid case for ${key}`);
  }
});

test('invalid override values are warned about and the pod is still injected', () => {
  const r = transformManifest(readFileSync(`${TESTDATA}overrides-invalid.in.yaml`, 'utf8'), actionFor('overrides-invalid'));
  for (const s of r.summaries) {
    assert.match(s.result, /^injected/, `${s.object} was not injected`);
    assert.ok(s.warnings.length > 0, `${s.object} has no warning`);
  }
});

test('broken YAML names the document and fails the whole stream', () => {
  const text = 'kind: Service\nmetadata:\n  name: ok\n---\nkind: Pod\nmetadata: [unclosed\n';
  assert.throws(
    () => transformManifest(text, actionFor('x')),
    (err: unknown) => err instanceof ManifestError && /^document 2: invalid YAML/.test(err.message),
  );
});

test('broken JSON is reported as document 1', () => {
  assert.throws(() => transformManifest('{"kind": "Pod",', { action: 'uninject' }), /: document 1: invalid JSON/);
});

test('hand-formatted YAML keeps its comments through inject and comes back equal as data', () => {
  const input = [
    '# keep me',
    'apiVersion: apps/v1',
    'kind: Deployment',
    'metadata: {name: web, namespace: shop}   # flow style',
    'spec:',
    '  template:',
    '    spec:',
    '      containers:',
    '      - name: app      # unindented sequence',
    '        image: "nginx"',
    '',
  ].join('\n');
  const injected = transformManifest(input, actionFor('x')).output;
  assert.match(injected, /# keep me/);
  assert.match(injected, /# unindented sequence/);
  assert.match(injected, /name: weft-proxy/);
  const back = transformManifest(injected, { action: 'uninject' }).output;
  assert.deepEqual(parseAllDocuments(back).map((d) => d.toJS()), parseAllDocuments(input).map((d) => d.toJS()));
  assert.match(back, /# flow style/);
});
