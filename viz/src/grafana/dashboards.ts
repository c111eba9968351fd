/**
 * weft's Grafana dashboards (top line, per workload, per route) as data, over
 * the same metric names as viz (docs/contracts.md). `npm run grafana -w viz`
 * writes them to viz/grafana/*.json. The JSON model is typed with Grafana's
 * published dashboard schema (`@grafana/schema`, a type-only import: nothing
 * of it is in viz's bundle), so `tsc` rejects a field Grafana does not know;
 * dashboards.test.ts checks the files are current and that every panel's
 * query returns data from real proxies in a real Prometheus.
 */
import type { Dashboard, DataSourceRef, Panel as GrafanaPanel, VariableModel } from '@grafana/schema';

export interface Panel {
  readonly title: string;
  readonly type: 'timeseries' | 'stat' | 'table';
  readonly unit: string;
  readonly targets: ReadonlyArray<{ readonly expr: string; readonly legend: string }>;
  readonly w: number;
}

export interface DashboardSpec {
  readonly uid: string;
  readonly title: string;
  readonly description: string;
  readonly variables: ReadonlyArray<{ readonly name: string; readonly query: string }>;
  readonly panels: readonly Panel[];
}

const RI = '$__rate_interval';
/**
 * Successes / responses. Without a success series the division would have no
 * result and a failing object would vanish from the panel instead of showing
 * 0 %: `or (all × 0)` supplies the zero — only while no success sample is in
 * the window, so a success series that has just appeared (no rate yet) is a
 * gap, not a false 0 % (as the viz API's time series, docs/viz.md).
 */
const ratio = (metric: string, sel: string, by: string) => {
  const all = `sum by (${by}) (rate(${metric}{${sel}}[${RI}]))`;
  const success = `${metric}{${sel},classification="success"}[${RI}]`;
  return `(sum by (${by}) (rate(${success})) or (${all} * 0 unless on(${by}) count by (${by}) (count_over_time(${success})))) / ${all}`;
};
const sr = (sel: string, by: string) => ratio('response_total', sel, by);
const rps = (sel: string, by: string) => `sum by (${by}) (rate(request_total{${sel}}[${RI}]))`;
const lat = (q: number, metric: string, sel: string, by: string) => `histogram_quantile(${q}, sum by (le, ${by}) (rate(${metric}_bucket{${sel}}[${RI}])))`;

const inbound = 'direction="inbound"';
const wl = 'namespace="$namespace",deployment="$deployment"';

export const TOP_LINE: DashboardSpec = {
  uid: 'weft-top-line',
  title: 'weft / top line',
  description: 'The whole mesh: success rate, request rate and latency, per namespace and per deployment.',
  variables: [],
  panels: [
    { title: 'Mesh success rate', type: 'stat', unit: 'percentunit', w: 8, targets: [{ expr: ratio('response_total', inbound, ''), legend: 'success' }] },
    { title: 'Mesh request rate', type: 'stat', unit: 'reqps', w: 8, targets: [{ expr: `sum(rate(request_total{${inbound}}[${RI}]))`, legend: 'rps' }] },
    { title: 'Meshed pods', type: 'stat', unit: 'short', w: 8, targets: [{ expr: 'count(up{job="weft-proxy"} == 1)', legend: 'pods' }] },
    { title: 'Success rate by namespace', type: 'timeseries', unit: 'percentunit', w: 12, targets: [{ expr: sr(inbound, 'namespace'), legend: '{{namespace}}' }] },
    { title: 'Request rate by namespace', type: 'timeseries', unit: 'reqps', w: 12, targets: [{ expr: rps(inbound, 'namespace'), legend: '{{namespace}}' }] },
    { title: 'p95 latency by deployment', type: 'timeseries', unit: 'ms', w: 12, targets: [{ expr: lat(0.95, 'response_latency_ms', `${inbound},deployment!=""`, 'namespace, deployment'), legend: '{{namespace}}/{{deployment}}' }] },
    { title: 'Success rate by deployment', type: 'timeseries', unit: 'percentunit', w: 12, targets: [{ expr: sr(`${inbound},deployment!=""`, 'namespace, deployment'), legend: '{{namespace}}/{{deployment}}' }] },
  ],
};

/** The namespace and deployment pickers, over the series of `metric`. */
function workloadPickers(metric: string): DashboardSpec['variables'] {
  return [
    { name: 'namespace', query: `label_values(${metric}, namespace)` },
    { name: 'deployment', query: `label_values(${metric}{namespace="$namespace"}, deployment)` },
  ];
}

export const WORKLOAD: DashboardSpec = {
  uid: 'weft-workload',
  title: 'weft / workload',
  description: 'One deployment: golden metrics of what it serves, who calls it, what it calls and its TCP connections.',
  variables: workloadPickers('request_total'),
  panels: [
    { title: 'Success rate', type: 'stat', unit: 'percentunit', w: 6, targets: [{ expr: sr(`${inbound},${wl}`, 'deployment'), legend: 'success' }] },
    { title: 'Request rate', type: 'stat', unit: 'reqps', w: 6, targets: [{ expr: rps(`${inbound},${wl}`, 'deployment'), legend: 'rps' }] },
    { title: 'Meshed pods', type: 'stat', unit: 'short', w: 6, targets: [{ expr: `count(up{job="weft-proxy",${wl}} == 1)`, legend: 'pods' }] },
    { title: 'Open TCP connections', type: 'stat', unit: 'short', w: 6, targets: [{ expr: `sum(tcp_open_connections{${inbound},${wl},peer="src"})`, legend: 'connections' }] },
    {
      title: 'Latency', type: 'timeseries', unit: 'ms', w: 12,
      targets: [0.5, 0.95, 0.99].map((q) => ({ expr: lat(q, 'response_latency_ms', `${inbound},${wl}`, 'deployment'), legend: `p${q * 100}` })),
    },
    { title: 'Inbound success rate by client identity', type: 'timeseries', unit: 'percentunit', w: 12, targets: [{ expr: sr(`${inbound},${wl}`, 'client_id'), legend: '{{client_id}}' }] },
    { title: 'Outbound request rate by destination', type: 'timeseries', unit: 'reqps', w: 12, targets: [{ expr: rps(`direction="outbound",${wl}`, 'dst_namespace, dst_deployment'), legend: '{{dst_namespace}}/{{dst_deployment}}' }] },
    { title: 'Outbound success rate by destination', type: 'timeseries', unit: 'percentunit', w: 12, targets: [{ expr: sr(`direction="outbound",${wl}`, 'dst_namespace, dst_deployment'), legend: '{{dst_namespace}}/{{dst_deployment}}' }] },
    { title: 'Requests without mTLS', type: 'timeseries', unit: 'reqps', w: 12, targets: [{ expr: `sum by (direction) (rate(request_total{${wl},tls!="true"}[${RI}]))`, legend: '{{direction}}' }] },
    { title: 'TCP bytes', type: 'timeseries', unit: 'Bps', w: 12, targets: [{ expr: `sum by (direction) (rate(tcp_read_bytes_total{${wl}}[${RI}]))`, legend: 'read {{direction}}' }, { expr: `sum by (direction) (rate(tcp_write_bytes_total{${wl}}[${RI}]))`, legend: 'write {{direction}}' }] },
  ],
};

const rt = `${inbound},${wl},rt_route=~"$route"`;
export const ROUTE: DashboardSpec = {
  uid: 'weft-route',
  title: 'weft / route',
  description: 'Per-route golden metrics of one deployment (route_* series with rt_route).',
  variables: [...workloadPickers('route_request_total'), { name: 'route', query: 'label_values(route_request_total{namespace="$namespace",deployment="$deployment"}, rt_route)' }],
  panels: [
    { title: 'Success rate by route', type: 'timeseries', unit: 'percentunit', w: 12, targets: [{ expr: ratio('route_response_total', rt, 'rt_route'), legend: '{{rt_route}}' }] },
    { title: 'Request rate by route', type: 'timeseries', unit: 'reqps', w: 12, targets: [{ expr: `sum by (rt_route) (rate(route_request_total{${rt}}[${RI}]))`, legend: '{{rt_route}}' }] },
    { title: 'p95 latency by route', type: 'timeseries', unit: 'ms', w: 12, targets: [{ expr: lat(0.95, 'route_response_latency_ms', rt, 'rt_route'), legend: '{{rt_route}}' }] },
    {
      // Clients retry, not the server: retries of clients (outbound) on the routes of the authorities this deployment serves.
      title: 'Client retries by route', type: 'timeseries', unit: 'reqps', w: 12,
      targets: [{ expr: `sum by (rt_route) (rate(retry_total{direction="outbound",rt_route=~"$route"}[${RI}]) and on (authority, rt_route) group by (authority, rt_route) (route_request_total{${rt}}))`, legend: '{{rt_route}}' }],
    },
  ],
};

export const DASHBOARDS: Readonly<Record<string, DashboardSpec>> = { 'top-line': TOP_LINE, workload: WORKLOAD, route: ROUTE };

/** The Grafana JSON model of a dashboard (schemaVersion 39; the datasource is a variable so any Prometheus works). */
export function grafanaJson(d: DashboardSpec): Dashboard {
  const ds: DataSourceRef = { type: 'prometheus', uid: '${datasource}' };
  let x = 0;
  let y = 0;
  const panels = d.panels.map((p, i): GrafanaPanel => {
    if (x + p.w > 24) {
      x = 0;
      y += 8;
    }
    const gridPos = { x, y, w: p.w, h: p.type === 'stat' ? 4 : 8 };
    x += p.w;
    return {
      id: i + 1,
      type: p.type,
      title: p.title,
      datasource: ds,
      gridPos,
      fieldConfig: { defaults: { unit: p.unit }, overrides: [] },
      options: {},
      targets: p.targets.map((t, j) => ({ refId: String.fromCharCode(65 + j), datasource: ds, expr: t.expr, legendFormat: t.legend })),
    };
  });
  return {
    uid: d.uid,
    title: d.title,
    description: d.description,
    tags: ['weft'],
    editable: true,
    schemaVersion: 39,
    refresh: '10s',
    time: { from: 'now-30m', to: 'now' },
    templating: {
      list: [
        { name: 'datasource', type: 'datasource', query: 'prometheus', label: 'Prometheus' } satisfies VariableModel,
        ...d.variables.map(
          (v): VariableModel => ({ name: v.name, type: 'query', datasource: ds, query: v.query, refresh: 2, includeAll: v.name === 'route', multi: v.name === 'route', allValue: v.name === 'route' ? '.*' : undefined }),
        ),
      ],
    },
    panels,
  };
}

export function renderDashboardFiles(): Map<string, string> {
  return new Map(Object.entries(DASHBOARDS).map(([name, d]) => [`${name}.json`, JSON.stringify(grafanaJson(d), null, 2) + '\n']));
}
