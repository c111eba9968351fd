/**
 * `weft install`: renders the weft charts as plain manifests (for
 * `kubectl apply -f -`, for users without helm) from the same typed values
 * model the Helm charts are generated from (cdk8s/). Values files merge over
 * the defaults as with `helm -f`.
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { parse, stringify } from 'yaml';
import { InvalidArgumentError, WeftError } from '@weft/common/errors';
import { globalsOf } from '../globals.js';
import { withProgress } from '../terminal.js';

const CHART_NAMES = { crds: 'weft-crds', 'control-plane': 'weft-control-plane', viz: 'weft-viz' } as const;
type ChartKey = keyof typeof CHART_NAMES;

type Synthesis = typeof import('@weft/cdk8s/synth');

/** cdk8s is heavy and only `install` needs it, so it is loaded on demand. */
function loadSynthesis(): Promise<Synthesis> {
  return import('@weft/cdk8s/synth');
}

async function readValues(path: string): Promise<unknown> {
  let text: string;
  try {
    text = path === '-' ? await new Response(process.stdin as unknown as ReadableStream).text() : await readFile(path, 'utf8');
  } catch (err) {
    throw new InvalidArgumentError(`cannot read values file ${path}: ${(err as Error).message}`);
  }
  try {
    return parse(text) ?? {};
  } catch (err) {
    throw new InvalidArgumentError(`values file ${path} is not valid YAML: ${(err as Error).message}`);
  }
}

export function registerInstall(program: Command): void {
  program
    .command('install')
    .description('render the weft charts (CRDs and control plane by default) as manifests for kubectl apply -f -')
    .option('-f, --values <file>', 'values file (YAML), repeatable, later files win', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .option('--chart <charts>', 'comma-separated: crds, control-plane, viz', 'crds,control-plane')
    .option('--release-name <name>', 'release name the charts render with', 'weft')
    .action(async (opts: { values: string[]; chart: string; releaseName: string }, cmd: Command) => {
      const g = globalsOf(cmd);
      const keys = opts.chart.split(',').map((c) => c.trim()).filter(Boolean);
      for (const k of keys) if (!(k in CHART_NAMES)) throw new InvalidArgumentError(`--chart ${k}: use crds, control-plane or viz`);
      const values = await Promise.all(opts.values.map(readValues));
      const synth = await withProgress('rendering the charts', () => loadSynthesis());
      const docs: Record<string, unknown>[] = [];
      if (keys.includes('control-plane') || keys.includes('viz')) {
        const namespaces = [...(keys.includes('control-plane') ? [g.weftNamespace] : []), ...(keys.includes('viz') ? ['weft-viz'] : [])];
        for (const ns of namespaces) docs.push({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: { 'weft.io/control-plane-ns': g.weftNamespace } } });
      }
      for (const k of keys as ChartKey[]) {
        const def = synth.CHARTS.find((c) => c.name === CHART_NAMES[k]);
        if (!def) throw new WeftError('INTERNAL', `chart ${CHART_NAMES[k]} is missing from the cdk8s synthesis`);
        try {
          docs.push(...synth.renderWithValues(def, values, { name: opts.releaseName, namespace: k === 'viz' ? 'weft-viz' : g.weftNamespace }));
        } catch (err) {
          throw new InvalidArgumentError(`cannot render ${CHART_NAMES[k]}: ${(err as Error).message}`);
        }
      }
      process.stdout.write(g.output === 'json' ? JSON.stringify({ apiVersion: 'v1', kind: 'List', items: docs }, null, 2) + '\n' : docs.map((d) => `---\n${stringify(d)}`).join(''));
    });
}
