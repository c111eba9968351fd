/**
 * The templating layer in memory: what each marker becomes in Go template
 * text, and how the synthesis side evaluates it with Go/Sprig semantics.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { emitObjectFile, emitTemplate } from './emit.js';
import { RenderError, evaluate, truth, type RenderScope } from './evaluate.js';
import { chart, concat, each, eq, include, item, itemsOf, not, orDefault, pipe, ref, release, required, spread, truthy, when, yamlOf } from './expr.js';
import { helpers } from './helpers.js';

const v = {
  replicas: ref<number>('Values', ['replicas'], 'int'),
  tag: ref<string>('Values', ['tag'], 'string'),
  secrets: ref<string[]>('Values', ['secrets'], 'list'),
  labels: ref<Record<string, string>>('Values', ['labels'], 'object'),
  scheme: ref<string>('Values', ['scheme'], 'string'),
  pem: ref<string>('Values', ['pem'], 'string'),
};
const h = helpers({ name: 't.labels', kind: 'map', description: 'labels', body: { 'app.kubernetes.io/instance': release.name } });
const scope = (values: Record<string, unknown>): RenderScope => ({
  values,
  release: { Name: 'rel', Namespace: 'ns', Service: 'Helm' },
  chart: { Name: 't', Version: '0.1.0', AppVersion: '1.0.0' },
  helpers: h,
});

const tree = {
  replicas: v.replicas,
  image: concat`reg/app:${orDefault(v.tag, chart.appVersion)}`,
  labels: { ...spread(include('t.labels')), fixed: 'yes', ...spread(v.labels) },
  pullSecrets: when(v.secrets, each(v.secrets, { name: item() })),
  mode: when(eq(v.scheme, 'a'), 'first', 'second'),
  extra: yamlOf(v.labels, { omitEmpty: true }),
  hash: pipe(v.pem, 'sha256sum'),
  pem: required(v.pem, 'pem is required'),
  list: ['x', when(not(truthy(v.tag)), 'no-tag')],
};

test('markers become readable Go templates', () => {
  const text = emitTemplate(tree, h);
  assert.match(text, /^replicas: \{\{ \.Values\.replicas \}\}$/m);
  assert.match(text, /^image: "reg\/app:\{\{ \.Values\.tag \| default \.Chart\.AppVersion \}\}"$/m);
  assert.match(text, /\{\{- include "t\.labels" \. \| nindent 2 \}\}/);
  assert.match(text, /^ {2}fixed: "yes"$/m, 'YAML 1.1 look-alikes are quoted');
  assert.match(text, /\{\{- range \.Values\.secrets \}\}\n {2}- name: \{\{ \. \| quote \}\}\n {2}\{\{- end \}\}/);
  assert.match(text, /\{\{- if eq \.Values\.scheme "a" \}\}\nmode: first\n\{\{- else \}\}\nmode: second\n\{\{- end \}\}/);
  assert.match(text, /\{\{- with \.Values\.labels \}\}\nextra:\n {2}\{\{- toYaml \. \| nindent 2 \}\}/);
  assert.match(text, /^hash: \{\{ \.Values\.pem \| sha256sum \| quote \}\}$/m);
  assert.match(text, /^pem: \{\{ required "pem is required" \.Values\.pem \| quote \}\}$/m);
  assert.match(text, /\{\{- if not \.Values\.tag \}\}\n {2}- no-tag/);
});

test('evaluation follows Go template semantics', () => {
  const out = evaluate(tree, scope({ replicas: 2, tag: '', secrets: ['a', 'b'], labels: { x: '1' }, scheme: 'b', pem: 'P' })) as Record<string, unknown>;
  assert.equal(out.replicas, 2);
  assert.equal(out.image, 'reg/app:1.0.0', 'empty tag falls back to appVersion');
  assert.deepEqual(out.labels, { 'app.kubernetes.io/instance': 'rel', fixed: 'yes', x: '1' });
  assert.deepEqual(out.pullSecrets, [{ name: 'a' }, { name: 'b' }]);
  assert.equal(out.mode, 'second');
  assert.deepEqual(out.extra, { x: '1' });
  assert.equal(out.hash, createHash('sha256').update('P').digest('hex'));
  assert.deepEqual(out.list, ['x', 'no-tag']);
});

test('empty values drop conditional parts', () => {
  const out = evaluate(tree, scope({ replicas: 1, tag: 't', secrets: [], labels: {}, scheme: 'a', pem: 'P' })) as Record<string, unknown>;
  assert.ok(!('pullSecrets' in out));
  assert.ok(!('extra' in out));
  assert.equal(out.mode, 'first');
  assert.deepEqual(out.list, ['x']);
});

test('required fails with its message', () => {
  assert.throws(() => evaluate(tree, scope({ replicas: 1, tag: '', secrets: [], labels: {}, scheme: 'a', pem: '' })), (e: unknown) => e instanceof RenderError && e.message === 'pem is required');
});

test('Go truthiness: empty string, zero, empty map and list are false', () => {
  for (const x of ['', 0, {}, [], null, undefined, false]) assert.equal(truth(x), false, JSON.stringify(x));
  for (const x of ['a', 1, { a: 1 }, [0], true]) assert.equal(truth(x), true, JSON.stringify(x));
});

test('a map that could render empty is refused at synthesis, not left to render as null', () => {
  assert.throws(() => emitTemplate({ annotations: { a: when(v.tag, 'x') } }, h), /may render empty/);
  assert.throws(() => emitTemplate({ list: [when(v.tag, 'x')] }, h), /may render empty/);
});

test('itemsOf splices a values list of maps before fixed items, in the template and in the synthesis', () => {
  const rules = ref<Record<string, unknown>[]>('Values', ['rules'], 'list');
  const t = { rules: [...itemsOf(rules), { key: 'fixed', values: [release.namespace] }] };
  const text = emitTemplate(t, h);
  assert.match(text, /^rules:\n {2}\{\{- with \.Values\.rules \}\}\n {2}\{\{- toYaml \. \| nindent 2 \}\}\n {2}\{\{- end \}\}\n {2}- key: fixed\n/);
  const given = [{ key: 'a', values: ['x'] }];
  assert.deepEqual(evaluate(t, scope({ rules: given })), { rules: [{ key: 'a', values: ['x'] }, { key: 'fixed', values: ['ns'] }] });
  assert.deepEqual(evaluate(t, scope({})), { rules: [{ key: 'fixed', values: ['ns'] }] });
  assert.throws(() => emitTemplate({ rules: itemsOf(rules) }, h), /may render empty/);
});

test('an object-level condition wraps the whole document', () => {
  assert.equal(emitObjectFile({ kind: 'X' }, h, truthy(v.tag)), '{{- if .Values.tag }}\nkind: X\n{{- end }}\n');
});
