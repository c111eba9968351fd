/* global document, window, fetch, location, localStorage, matchMedia, AbortController, URLSearchParams */
// The weft viz dashboard: plain JS over viz's JSON API, relative URLs only so
// it works behind `kubectl port-forward` or any path prefix. Views (by hash):
//   #/                                   namespaces + mesh topology
//   #/ns/<ns>                            time series, workloads, topology and routes of a namespace
//   #/ns/<ns>/<kind>/<name>              time series, pods, routes and live tap of a workload
//   #/ns/<ns>/<kind>/<name>/tap?client=  the same with the tap running, limited to one client identity
import { el } from './dom.js';
import { timeSeriesSection } from './charts.js';

const REFRESH_MS = 2000;
const WORKLOAD_KINDS = ['deployment', 'statefulset', 'daemonset'];
const THEMES = ['auto', 'light', 'dark'];

const $ = (sel) => document.querySelector(sel);
const view = $('#view');
const statusEl = $('#status');
let refreshTimer;
let tapAbort;
/** The mounted charts: kept while the page and the window stay the same. */
let charts;

async function api(path, params) {
  const qs = new URLSearchParams({ window: $('#window').value, ...params });
  const res = await fetch(`api/v1/${path}?${qs}`, { headers: { accept: 'application/json' } });
  const body = await res.json();
  if (!res.ok) throw new Error(body.error ? body.error.message : `HTTP ${res.status}`);
  return body;
}

const fmtRate = (r) => (r === null || r === undefined ? '-' : `${(r * 100).toFixed(2)}%`);
const fmtMs = (v) => (v === null || v === undefined ? '-' : `${Math.round(v)} ms`);
const fmtRps = (v) => `${v.toFixed(2)}`;
const srClass = (r) => (r === null || r === undefined ? 'sr-none' : r >= 0.99 ? 'sr-ok' : r >= 0.9 ? 'sr-warn' : 'sr-bad');
/** Worst success rate first; routes without responses last; then the busiest. */
const worstFirst = (a, b) => (a.successRate ?? 2) - (b.successRate ?? 2) || b.rps - a.rps || a.route.localeCompare(b.route);

function statTable(rows, link, testid) {
  if (rows.length === 0) return el('p', { class: 'empty', text: 'no meshed resources with traffic in this window' });
  const head = el('tr', {}, ...['name', 'meshed', 'success', 'rps', 'p50', 'p95', 'p99', 'tcp'].map((h) => el('th', { text: h })));
  const body = rows.map((r) =>
    el('tr', { 'data-testid': `${testid}-row`, 'data-name': r.name },
      el('td', {}, link ? el('a', { href: link(r), text: r.name }) : r.name),
      el('td', { class: 'num', text: r.totalPods === null ? '-' : `${r.meshedPods}/${r.totalPods}` }),
      el('td', { class: `num ${srClass(r.successRate)}`, text: fmtRate(r.successRate) }),
      el('td', { class: 'num', text: fmtRps(r.rps) }),
      el('td', { class: 'num', text: fmtMs(r.latencyMsP50) }),
      el('td', { class: 'num', text: fmtMs(r.latencyMsP95) }),
      el('td', { class: 'num', text: fmtMs(r.latencyMsP99) }),
      el('td', { class: 'num', text: String(r.tcpConnections) }),
    ));
  return el('table', { 'data-testid': testid }, el('thead', {}, head), el('tbody', {}, ...body));
}

function routesTable(all, max = 20) {
  if (all.length === 0) return el('p', { class: 'empty', text: 'no route traffic in this window' });
  const routes = [...all].sort(worstFirst).slice(0, max);
  const head = el('tr', {}, ...['route', 'workload', 'success', 'rps', 'p50', 'p95', 'p99'].map((h) => el('th', { text: h })));
  return el('table', { 'data-testid': 'routes' }, el('thead', {}, head), el('tbody', {}, ...routes.map((r) =>
    el('tr', { 'data-testid': 'route-row', 'data-route': r.route },
      el('td', { text: r.route }), el('td', { text: `${r.namespace}/${r.name}` }),
      el('td', { class: `num ${srClass(r.successRate)}`, text: fmtRate(r.successRate) }),
      el('td', { class: 'num', text: fmtRps(r.rps) }),
      el('td', { class: 'num', text: fmtMs(r.latencyMsP50) }), el('td', { class: 'num', text: fmtMs(r.latencyMsP95) }), el('td', { class: 'num', text: fmtMs(r.latencyMsP99) })))));
}

/** Where a click on an edge goes: the destination's tap limited to the edge's client identity, else the source's tap. */
function edgeTapHref(e) {
  const q = (ns, name) => `#/ns/${encodeURIComponent(ns)}/${e.kind}/${encodeURIComponent(name)}/tap`;
  return e.mtls && e.clientId ? `${q(e.dst.namespace, e.dst.name)}?client=${encodeURIComponent(e.clientId)}` : q(e.src.namespace, e.src.name);
}

/** An edge's label beside its midpoint, on the outer side, so labels of edges meeting at a node do not overlap. */
function labelAt(a, b, W, text) {
  const mx = (a.x + b.x) / 2, my = (a.y + b.y) / 2;
  const side = Math.abs(mx - W / 2) < 5 ? 0 : Math.sign(mx - W / 2);
  const anchor = side < 0 ? 'end' : side > 0 ? 'start' : 'middle';
  return el('text', { x: mx + side * 10, y: side === 0 ? my - 8 : my + 4, 'text-anchor': anchor, text });
}

/**
 * Nodes on a circle, one arrow per edge: coloured by the edge's success rate,
 * as thick as its share of the busiest edge's rps, solid with a check mark for mTLS
 * and dashed for plaintext; a click opens the tap of the edge.
 */
function topology(edges) {
  if (edges.length === 0) return el('p', { class: 'empty', text: 'no edges in this window' });
  const names = [...new Set(edges.flatMap((e) => [`${e.src.namespace}/${e.src.name}`, `${e.dst.namespace}/${e.dst.name}`]))].sort();
  const W = 800, H = 360, R = Math.min(W, H) / 2 - 50;
  const pos = new Map(names.map((n, i) => {
    const a = (2 * Math.PI * i) / names.length - Math.PI / 2;
    return [n, { x: W / 2 + R * Math.cos(a), y: H / 2 + R * Math.sin(a) }];
  }));
  const maxRps = Math.max(...edges.map((e) => e.rps), 0.001);
  const svg = el('svg', { class: 'topology', viewBox: `0 0 ${W} ${H}`, 'data-testid': 'topology', role: 'img', 'aria-label': 'mesh topology' },
    el('defs', {}, ...['sr-ok', 'sr-warn', 'sr-bad', 'sr-none'].map((c) =>
      el('marker', { id: `arrow-${c}`, class: c, viewBox: '0 0 10 10', refX: '10', refY: '5', markerWidth: '6', markerHeight: '6', markerUnits: 'userSpaceOnUse', orient: 'auto-start-reverse' }, el('path', { d: 'M 0 0 L 10 5 L 0 10 z' })))));
  for (const e of edges) {
    const a = pos.get(`${e.src.namespace}/${e.src.name}`), b = pos.get(`${e.dst.namespace}/${e.dst.name}`);
    // Stop the line at the destination's circle so the arrow head shows.
    const len = Math.hypot(b.x - a.x, b.y - a.y) || 1;
    const end = { x: b.x - ((b.x - a.x) / len) * 26, y: b.y - ((b.y - a.y) / len) * 26 };
    const width = (1.5 + 6 * Math.sqrt(e.rps / maxRps)).toFixed(1);
    const sr = srClass(e.successRate);
    const label = `${e.mtls ? '✓ mTLS' : 'plaintext'} · ${fmtRate(e.successRate)} · ${e.rps.toFixed(1)} rps`;
    svg.append(el('svg:a', { href: edgeTapHref(e), 'data-testid': 'edge-link' },
      el('g', { class: `edge ${e.mtls ? 'mtls' : 'plain'} ${sr}`, 'data-testid': 'edge', 'data-src': e.src.name, 'data-dst': e.dst.name, 'data-mtls': String(e.mtls), 'data-sr': sr, 'data-width': width },
        el('title', { text: `${e.src.name} → ${e.dst.name} (click to tap)\nsuccess: ${fmtRate(e.successRate)}, ${e.rps.toFixed(2)} rps\nclient: ${e.clientId || '-'}\nserver: ${e.serverId || '-'}` }),
        el('line', { class: 'hit', x1: a.x, y1: a.y, x2: end.x, y2: end.y }),
        el('line', { x1: a.x, y1: a.y, x2: end.x, y2: end.y, 'stroke-width': width, 'marker-end': `url(#arrow-${sr})` }),
        labelAt(a, b, W, label))));
  }
  for (const n of names) {
    const p = pos.get(n);
    svg.append(el('g', { class: 'node', 'data-testid': 'node', 'data-name': n }, el('circle', { cx: p.x, cy: p.y, r: 22 }), el('text', { x: p.x, y: p.y + 38, text: n.split('/')[1] })));
  }
  return el('div', {}, svg, el('p', { class: 'legend' },
    el('span', { class: 'sr-ok', text: '■ ≥ 99 %' }), el('span', { class: 'sr-warn', text: '■ ≥ 90 %' }), el('span', { class: 'sr-bad', text: '■ < 90 %' }),
    el('span', { text: '— mTLS   - - plaintext   width: rps   click an edge to tap it' })));
}

function edgesTable(edges) {
  const head = el('tr', {}, ...['from', 'to', 'client identity', 'server identity', 'mTLS', 'success', 'rps', ''].map((h) => el('th', { text: h })));
  return el('table', { 'data-testid': 'edges' }, el('thead', {}, head), el('tbody', {}, ...edges.map((e) =>
    el('tr', {}, el('td', { text: `${e.src.namespace}/${e.src.name}` }), el('td', { text: `${e.dst.namespace}/${e.dst.name}` }),
      el('td', { text: e.clientId || '-' }), el('td', { text: e.serverId || '-' }), el('td', { text: e.mtls ? '✓ yes' : 'no' }),
      el('td', { class: `num ${srClass(e.successRate)}`, text: fmtRate(e.successRate) }), el('td', { class: 'num', text: fmtRps(e.rps) }),
      el('td', {}, el('a', { href: edgeTapHref(e), text: 'tap' }))))));
}

function section(title, id, ...content) {
  return el('section', { id }, el('h2', { text: title }), ...content);
}

function crumbs(parts) {
  const nav = $('#crumbs');
  nav.replaceChildren();
  parts.forEach(([label, href], i) => {
    if (i > 0) nav.append(el('span', { class: 'sep', text: '›' }));
    nav.append(href ? el('a', { href, text: label }) : el('span', { text: label }));
  });
}

async function renderHome() {
  crumbs([['namespaces']]);
  const [ns, edges] = await Promise.all([api('stat', { resource: 'namespace' }), api('edges', { kind: 'deployment' })]);
  return {
    sections: [
      section('Namespaces', 'namespaces', statTable(ns.rows, (r) => `#/ns/${encodeURIComponent(r.name)}`, 'namespaces')),
      section('Topology', 'topology', topology(edges.edges)),
    ],
  };
}

async function renderNamespace(ns) {
  crumbs([['namespaces', '#/'], [ns]]);
  const [stats, edges, routes, series] = await Promise.all([
    Promise.all(WORKLOAD_KINDS.map((k) => api('stat', { resource: k, namespace: ns }))),
    api('edges', { kind: 'deployment', namespace: ns }),
    api('routes', { resource: `namespace/${ns}` }),
    api('timeseries', { resource: `namespace/${ns}` }),
  ]);
  const rows = stats.flatMap((s) => s.rows);
  return {
    series: { title: `Namespace ${ns} over time (inbound)`, data: series },
    sections: [
      section('Workloads', 'workloads', statTable(rows, (r) => `#/ns/${encodeURIComponent(ns)}/${r.kind}/${encodeURIComponent(r.name)}`, 'workloads')),
      section('Topology', 'topology', topology(edges.edges), edgesTable(edges.edges)),
      section('Routes (worst success rate first)', 'routes', routesTable(routes.routes)),
    ],
  };
}

async function renderWorkload(ns, kind, name) {
  crumbs([['namespaces', '#/'], [ns, `#/ns/${encodeURIComponent(ns)}`], [`${kind}/${name}`]]);
  const [pods, proxies, routes, stat, series] = await Promise.all([
    api('stat', { resource: 'pod', namespace: ns }),
    api('proxies', { namespace: ns }),
    api('routes', { resource: `${kind}/${name}`, namespace: ns }),
    api('stat', { resource: `${kind}/${name}`, namespace: ns }),
    api('timeseries', { resource: `${kind}/${name}`, namespace: ns }),
  ]);
  const mine = new Set(proxies.proxies.filter((p) => p.workload.kind === kind && p.workload.name === name).map((p) => p.name));
  return {
    series: { title: `${kind}/${name} over time (inbound)`, data: series },
    sections: [
      section(`${kind}/${name}`, 'workload', statTable(stat.rows, undefined, 'workload')),
      section('Pods', 'pods', statTable(pods.rows.filter((r) => mine.has(r.name)), undefined, 'pods')),
      section('Routes (worst success rate first)', 'routes', routesTable(routes.routes)),
    ],
  };
}

/**
 * The tap view stays mounted across refreshes; it streams NDJSON from
 * `api/v1/tap`. `client` (from an edge) keeps only requests from that client
 * identity; `autostart` starts it at once.
 */
function tapSection(ns, kind, name, { client = '', autostart = false } = {}) {
  const tbody = el('tbody');
  const state = el('span', { class: 'empty', text: 'stopped' });
  const path = el('input', { placeholder: 'path prefix', 'aria-label': 'path prefix' });
  const method = el('input', { placeholder: 'method', 'aria-label': 'method' });
  const clientId = el('input', { placeholder: 'client identity', 'aria-label': 'client identity', 'data-testid': 'tap-client', class: 'wide' });
  clientId.value = client;
  const button = el('button', { 'data-testid': 'tap-toggle', text: 'Start tap' });
  const pending = new Map();
  async function start() {
    tapAbort = new AbortController();
    button.textContent = 'Stop tap';
    state.textContent = 'tapping…';
    const qs = new URLSearchParams({ resource: `${kind}/${name}`, namespace: ns });
    if (path.value) qs.set('path', path.value);
    if (method.value) qs.set('method', method.value.toUpperCase());
    try {
      const res = await fetch(`api/v1/tap?${qs}`, { signal: tapAbort.signal });
      if (!res.ok) throw new Error((await res.json()).error.message);
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      let buf = '';
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        buf += decoder.decode(value, { stream: true });
        let i;
        while ((i = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          if (line) onEvent(JSON.parse(line));
        }
      }
      state.textContent = 'stream ended';
    } catch (err) {
      state.textContent = err.name === 'AbortError' ? 'stopped' : `error: ${err.message}`;
    }
    button.textContent = 'Start tap';
  }
  function onEvent(e) {
    if (e.error && !e.type) {
      state.textContent = `${e.proxy.pod}: ${e.error}`;
      return;
    }
    const key = `${e.proxy.pod}/${e.id}`;
    if (e.type === 'request') pending.set(key, { ...e });
    if (e.type === 'response' && pending.has(key)) pending.get(key).status = e.status;
    if (e.type !== 'end') return;
    const req = pending.get(key) || {};
    pending.delete(key);
    if (clientId.value && e.clientId !== clientId.value) return;
    const row = el('tr', { 'data-testid': 'tap-row', 'data-client': e.clientId || '' },
      el('td', { text: e.direction }), el('td', { text: e.proxy.pod }),
      el('td', { text: req.method || '' }), el('td', { text: req.authority || '' }), el('td', { text: req.path || '' }),
      el('td', { text: e.tls ? 'mTLS' : 'no' }), el('td', { text: e.clientId || '-' }),
      el('td', { text: req.status !== undefined ? String(req.status) : '' }),
      el('td', { class: 'num', text: fmtMs(e.latencyMs) }), el('td', { class: 'num', text: String(e.responseBytes ?? '') }));
    tbody.prepend(row);
    while (tbody.children.length > 100) tbody.lastChild.remove();
  }
  button.addEventListener('click', () => (tapAbort && !tapAbort.signal.aborted && button.textContent === 'Stop tap' ? tapAbort.abort() : void start()));
  if (autostart) void start();
  const head = el('tr', {}, ...['dir', 'pod', 'method', 'authority', 'path', 'tls', 'client', 'status', 'latency', 'bytes'].map((h) => el('th', { text: h })));
  return section('Live tap', 'tap', el('div', { class: 'tap-controls' }, method, path, clientId, button, state), el('table', { id: 'tap-table', 'data-testid': 'tap' }, el('thead', {}, head), tbody));
}

/** `#/ns/a/deployment/b/tap?client=x` → { parts: ['ns','a','deployment','b','tap'], query }. */
function route() {
  const [path, query = ''] = location.hash.replace(/^#\/?/, '').split('?');
  return { parts: path.split('/').filter(Boolean).map(decodeURIComponent), query: new URLSearchParams(query) };
}

async function render() {
  const { parts, query } = route();
  const workload = parts[0] === 'ns' && (parts.length === 4 || (parts.length === 5 && parts[4] === 'tap'));
  let page;
  if (parts[0] === 'ns' && parts.length === 2) page = await renderNamespace(parts[1]);
  else if (workload) page = await renderWorkload(parts[1], parts[2], parts[3]);
  else page = await renderHome();
  const key = `${location.hash}|${$('#window').value}`;
  if (page.series && (!charts || charts.key !== key)) charts = { key, ...timeSeriesSection(page.series.title) };
  if (!page.series) charts = undefined;
  const tap = view.querySelector('#tap');
  view.replaceChildren(...(charts ? [charts.section] : []), ...page.sections);
  if (workload) view.append(tap || tapSection(parts[1], parts[2], parts[3], { client: query.get('client') || '', autostart: parts[4] === 'tap' }));
  // Drawn once mounted: the charts take the width of their boxes.
  if (charts) charts.update(page.series.data);
  statusEl.textContent = `updated ${new Date().toLocaleTimeString()}`;
  statusEl.classList.remove('error');
}

async function refresh() {
  clearTimeout(refreshTimer);
  try {
    await render();
  } catch (err) {
    statusEl.textContent = `error: ${err.message}`;
    statusEl.classList.add('error');
  }
  refreshTimer = setTimeout(refresh, REFRESH_MS);
}

/** auto (the system's prefers-color-scheme), light or dark; remembered in this browser. */
function applyTheme(theme) {
  if (theme === 'auto') delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = theme;
  $('#theme').textContent = `theme: ${theme}`;
  if (charts) charts.redraw();
}

let theme = THEMES.includes(localStorage.getItem('weft-theme')) ? localStorage.getItem('weft-theme') : 'auto';
applyTheme(theme);
$('#theme').addEventListener('click', () => {
  theme = THEMES[(THEMES.indexOf(theme) + 1) % THEMES.length];
  localStorage.setItem('weft-theme', theme);
  applyTheme(theme);
});
matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => charts && charts.redraw());
window.addEventListener('resize', () => charts && charts.redraw());
window.addEventListener('hashchange', () => {
  if (tapAbort) tapAbort.abort();
  charts = undefined;
  view.replaceChildren();
  void refresh();
});
$('#window').addEventListener('change', () => void refresh());
void refresh();
