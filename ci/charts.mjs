#!/usr/bin/env node
// Chart checks CI runs: build cdk8s, fail when charts/ or docs/values.md differ
// from a fresh synthesis (`npm run synth`), then the chart tests with the real
// helm: template == synthesis over the values matrix, `helm lint --strict` per
// values file, Kubernetes schema validation, schema rejections, upgrade
// stability (and, with WEFT_E2E_KUBECONFIG, install/upgrade on a real API server).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const step = (what, cmd, args) => {
  console.log(`== charts: ${what}`);
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: root });
  if (r.status !== 0) process.exit(r.status ?? 1);
};
step('tools', process.execPath, [join(root, 'ci', 'tools.mjs'), '--quiet']);
step('build', 'npx', ['tsc', '-b', 'cdk8s']);
step('drift', process.execPath, [join(root, 'cdk8s', 'dist', 'synth-main.js'), '--check']);
step('tests', process.execPath, [join(root, 'ci', 'unit.mjs'), 'cdk8s']);
