// The shipped Grafana dashboards against real weft proxies (the proxy's
// in-process test mesh: client → server over mTLS, a service profile with a
// retryable route, and plaintext to an unmeshed destination) scraped by a real
// Prometheus while a traffic loop runs: the files are current, their structure
// holds together, and every panel's every query returns data for some choice
// of the dashboard's variables, resolved the way Grafana resolves them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { endpoint } from '@weft/proxy';
import { waitFor } from '@weft/common/poll';
import { startRealProxyMesh, type RealProxyMesh } from '../testing/real-proxy-mesh.js';
import { DASHBOARDS, grafanaJson, renderDashboardFiles, type DashboardSpec, type Panel } from './dashboards.js';

const LEGACY = 'legacy.test.svc:80';
/** What Grafana's `$__rate_interval` becomes here: max(4 × the 1 s scrape, step + scrape) for a short range. */
const RATE_INTERVAL = '30s';

let mesh: RealProxyMesh;
let stop = false;
let traffic: Promise<void> | undefined;

before(async () => {
  mesh = await startRealProxyMesh({ appDelayMs: 5, routes: true });
  // An unmeshed destination (no identity): the client proxy talks plaintext to it.
  mesh.mesh.discovery.set(LEGACY, [
    endpoint('127.0.0.1', mesh.appPort, { labels: { namespace: 'test', deployment: 'legacy', pod: 'legacy-pod' } }),
  ]);
  traffic = (async () => {
    for (let i = 0; !stop; i++) {
      await Promise.all([mesh.send(i % 5 === 0 ? `/books/fail/${i}` : `/books/${i}`), mesh.send(`/legacy/${i}`, LEGACY)]);
    }
  })();
});

after(async () => {
  stop = true;
  await traffic;
  await mesh?.close();
});

async function prometheus<T>(path: string, params: Record<string, string | string[]>): Promise<T> {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) for (const x of [v].flat()) qs.append(k, x);
  const res = await fetch(`${mesh.prometheus.url}${path}?${qs}`);
  const body = (await res.json()) as { status: string; error?: string; data: T };
  if (body.status !== 'success') throw new Error(`Prometheus ${path} ${qs}: ${body.error}`);
  return body.data;
}

/** Grafana's `label_values(metric{matchers}, label)` against the series Prometheus has. */
async function labelValues(query: string): Promise<string[]> {
  const m = /^label_values\((.+),\s*(\w+)\)$/.exec(query);
  if (!m) throw new Error(`not a label_values query: ${query}`);
  return (await prometheus<string[]>(`/api/v1/label/${m[2]}/values`, { 'match[]': m[1]!, start: String(Date.now() / 1000 - 600) }))
    .filter(Boolean)
    .sort();
}

const substitute = (text: string, vars: Readonly<Record<string, string>>) =>
  text.replaceAll('$__rate_interval', RATE_INTERVAL).replace(/\$(\w+)/g, (all, name: string) => vars[name] ?? all);

/** Every assignment of the dashboard's variables Grafana would offer, in order (a later variable's query may use an earlier one). */
async function variableChoices(d: DashboardSpec): Promise<Array<Record<string, string>>> {
  let choices: Array<Record<string, string>> = [{}];
  for (const v of d.variables) {
    const next: Array<Record<string, string>> = [];
    for (const c of choices) {
      // A multi-value variable with "All" (route) is queried with its allValue, as Grafana's default.
      const values = v.name === 'route' ? ['.*'] : await labelValues(substitute(v.query, c));
      for (const value of values) next.push({ ...c, [v.name]: value });
    }
    choices = next;
  }
  return choices;
}

/** The query as the panel runs it: a range query for time series, an instant one for stats; data = a finite value. */
async function hasData(panel: Panel, expr: string): Promise<number> {
  const now = Date.now() / 1000;
  if (panel.type === 'timeseries') {
    const r = await prometheus<{ result: Array<{ values: Array<[number, string]> }> }>('/api/v1/query_range', {
      query: expr,
      start: String(now - 120),
      end: String(now),
      step: '5',
    });
    return r.result.filter((s) => s.values.some(([, v]) => Number.isFinite(Number(v)))).length;
  }
  const r = await prometheus<{ result: Array<{ value: [number, string] }> }>('/api/v1/query', { query: expr });
  return r.result.filter((s) => Number.isFinite(Number(s.value[1]))).length;
}

test('the dashboard files are current', () => {
  for (const [name, text] of renderDashboardFiles()) {
    assert.equal(
      readFileSync(new URL(`../../grafana/${name}`, import.meta.url), 'utf8'),
      text,
      `viz/grafana/${name} is stale: run npm run grafana -w viz`,
    );
  }
});

test('each dashboard holds together: unique panel ids and refIds, a 24-column grid, every variable it uses defined, the datasource a variable', () => {
  for (const [name, spec] of Object.entries(DASHBOARDS)) {
    const d = grafanaJson(spec);
    assert.ok(d.uid && d.title && d.schemaVersion >= 36, name);
    const vars = new Set((d.templating?.list ?? []).map((v) => v.name));
    assert.ok(vars.has('datasource'), `${name}: no datasource variable`);
    const ids = new Set<number>();
    for (const p of d.panels ?? []) {
      assert.ok(p.id !== undefined && !ids.has(p.id), `${name}: panel id ${p.id} repeated`);
      ids.add(p.id);
      assert.ok(
        p.gridPos && p.gridPos.x >= 0 && p.gridPos.x + p.gridPos.w <= 24 && p.gridPos.h > 0,
        `${name}/${p.title}: gridPos ${JSON.stringify(p.gridPos)}`,
      );
      assert.equal((p.datasource as { uid?: string }).uid, '${datasource}', `${name}/${p.title}`);
      const targets = ('targets' in p ? p.targets : undefined) ?? [];
      assert.ok(targets.length > 0, `${name}/${p.title}: no queries`);
      assert.equal(new Set(targets.map((t) => t.refId)).size, targets.length, `${name}/${p.title}: refIds repeat`);
      for (const t of targets) {
        for (const [, used] of String(t.expr).matchAll(/\$(\w+)/g))
          assert.ok(used === '__rate_interval' || vars.has(used!), `${name}/${p.title}: $${used} is not a variable`);
      }
    }
    for (const v of spec.variables) {
      for (const [, used] of v.query.matchAll(/\$(\w+)/g)) {
        const earlier = spec.variables.slice(0, spec.variables.indexOf(v)).map((x) => x.name);
        assert.ok(earlier.includes(used!), `${name}: variable ${v.name} uses $${used} before it is defined`);
      }
    }
  }
});

test('every panel query returns data from real proxies carrying traffic, for some choice of the variables', async (t) => {
  // rate() needs the loop's traffic in a few scrapes of every series (route, retry and plaintext ones included).
  await mesh.prometheus.scrapedAfter(new Date());
  const report: string[] = [];
  for (const [name, spec] of Object.entries(DASHBOARDS)) {
    for (const panel of spec.panels) {
      for (const target of panel.targets) {
        const found = await waitFor(
          `data for ${name} / ${panel.title} (${target.legend})`,
          async () => {
            for (const vars of await variableChoices(spec)) {
              const expr = substitute(target.expr, vars);
              const series = await hasData(panel, expr);
              if (series > 0) return { vars, series };
            }
            return undefined;
          },
          { timeoutMs: 120_000, intervalMs: 1000 },
        );
        report.push(`${name} / ${panel.title} [${target.legend}]: ${found.series} series with ${JSON.stringify(found.vars)}`);
      }
    }
  }
  t.diagnostic(report.join('\n'));
  const total = Object.values(DASHBOARDS).reduce((n, d) => n + d.panels.reduce((m, p) => m + p.targets.length, 0), 0);
  assert.equal(report.length, total);
});

test('a route whose every request fails shows 0 % in the route dashboard instead of vanishing', async () => {
  const panel = DASHBOARDS.route!.panels.find((p) => p.title === 'Success rate by route')!;
  const expr = substitute(panel.targets[0]!.expr, { namespace: 'test', deployment: 'server', route: '.*' });
  const byRoute = await waitFor(
    'both routes in the success-rate panel',
    async () => {
      const r = await prometheus<{ result: Array<{ metric: { rt_route: string }; value: [number, string] }> }>('/api/v1/query', {
        query: expr,
      });
      const m = new Map(r.result.map((s) => [s.metric.rt_route, Number(s.value[1])]));
      return m.has('fail') && m.has('books') ? m : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 1000 },
  );
  // The app answers 500 on /books/fail: route `fail` never succeeds, `books` always does.
  assert.equal(byRoute.get('fail'), 0);
  assert.equal(byRoute.get('books'), 1);
});
