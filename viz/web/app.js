/* global document, window, fetch, location, AbortController, URLSearchParams */
// The weft viz dashboard: plain JS over viz's JSON API, relative URLs only so
// it works behind `kubectl port-forward` or any path prefix. Views (by hash):
//   #/                          namespaces + mesh topology
//   #/ns/<ns>                   workloads, topology and routes of a namespace
//   #/ns/<ns>/<kind>/<name>     pods, routes and live tap of a workload
const REFRESH_MS = 2000;
const WORKLOAD_KINDS = ['deployment', 'statefulset', 'daemonset'];

const $ = (sel) => document.querySelector(sel);
const view = $('#view');
const statusEl = $('#status');
let refreshTimer;
let tapAbort;

function el(tag, attrs = {}, ...children) {
  const node = tag === 'svg' || ['g', 'line', 'circle', 'text', 'path', 'marker', 'defs', 'title'].includes(tag)
    ? document.createElementNS('http://www.w3.org/2000/svg', tag)
    : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null) continue;
    if (k === 'text') node.textContent = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) if (c !== undefined && c !== null) node.append(c);
  return node;
}

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
const srClass = (r) => (r === null ? '' : r >= 0.99 ? 'sr-ok' : r >= 0.9 ? 'sr-warn' : 'sr-bad');

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

function routesTable(routes) {
  if (routes.length === 0) return el('p', { class: 'empty', text: 'no route traffic in this window' });
  const head = el('tr', {}, ...['route', 'workload', 'success', 'rps', 'p50', 'p95', 'p99'].map((h) => el('th', { text: h })));
  return el('table', { 'data-testid': 'routes' }, el('thead', {}, head), el('tbody', {}, ...routes.map((r) =>
    el('tr', { 'data-testid': 'route-row' },
      el('td', { text: r.route }), el('td', { text: `${r.namespace}/${r.name}` }),
      el('td', { class: `num ${srClass(r.successRate)}`, text: fmtRate(r.successRate) }),
      el('td', { class: 'num', text: fmtRps(r.rps) }),
      el('td', { class: 'num', text: fmtMs(r.latencyMsP50) }), el('td', { class: 'num', text: fmtMs(r.latencyMsP95) }), el('td', { class: 'num', text: fmtMs(r.latencyMsP99) })))));
}

/** Nodes on a circle, one line per edge: green and solid for mTLS, red and dashed for plaintext. */
function topology(edges) {
  if (edges.length === 0) return el('p', { class: 'empty', text: 'no edges in this window' });
  const names = [...new Set(edges.flatMap((e) => [`${e.src.namespace}/${e.src.name}`, `${e.dst.namespace}/${e.dst.name}`]))].sort();
  const W = 800, H = 360, R = Math.min(W, H) / 2 - 50;
  const pos = new Map(names.map((n, i) => {
    const a = (2 * Math.PI * i) / names.length - Math.PI / 2;
    return [n, { x: W / 2 + R * Math.cos(a), y: H / 2 + R * Math.sin(a) }];
  }));
  const svg = el('svg', { class: 'topology', viewBox: `0 0 ${W} ${H}`, 'data-testid': 'topology', role: 'img', 'aria-label': 'mesh topology' },
    el('defs', {}, el('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: '28', refY: '5', markerWidth: '7', markerHeight: '7', orient: 'auto-start-reverse' }, el('path', { d: 'M 0 0 L 10 5 L 0 10 z', fill: '#667085' }))));
  for (const e of edges) {
    const a = pos.get(`${e.src.namespace}/${e.src.name}`), b = pos.get(`${e.dst.namespace}/${e.dst.name}`);
    const label = e.mtls ? `mTLS ${e.rps.toFixed(1)} rps` : `plaintext ${e.rps.toFixed(1)} rps`;
    svg.append(el('g', { class: `edge ${e.mtls ? 'mtls' : 'plain'}`, 'data-testid': 'edge', 'data-src': e.src.name, 'data-dst': e.dst.name, 'data-mtls': String(e.mtls) },
      el('title', { text: `${e.src.name} → ${e.dst.name}\nclient: ${e.clientId || '-'}\nserver: ${e.serverId || '-'}` }),
      el('line', { x1: a.x, y1: a.y, x2: b.x, y2: b.y, 'marker-end': 'url(#arrow)' }),
      el('text', { x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 - 6, text: label })));
  }
  for (const n of names) {
    const p = pos.get(n);
    svg.append(el('g', { class: 'node', 'data-testid': 'node', 'data-name': n }, el('circle', { cx: p.x, cy: p.y, r: 22 }), el('text', { x: p.x, y: p.y + 38, text: n.split('/')[1] })));
  }
  return svg;
}

function edgesTable(edges) {
  const head = el('tr', {}, ...['from', 'to', 'client identity', 'server identity', 'mTLS', 'rps'].map((h) => el('th', { text: h })));
  return el('table', { 'data-testid': 'edges' }, el('thead', {}, head), el('tbody', {}, ...edges.map((e) =>
    el('tr', {}, el('td', { text: `${e.src.namespace}/${e.src.name}` }), el('td', { text: `${e.dst.namespace}/${e.dst.name}` }),
      el('td', { text: e.clientId || '-' }), el('td', { text: e.serverId || '-' }), el('td', { text: e.mtls ? 'yes' : 'no' }), el('td', { class: 'num', text: fmtRps(e.rps) })))));
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
  return [
    section('Namespaces', 'namespaces', statTable(ns.rows, (r) => `#/ns/${encodeURIComponent(r.name)}`, 'namespaces')),
    section('Topology', 'topology', topology(edges.edges)),
  ];
}

async function renderNamespace(ns) {
  crumbs([['namespaces', '#/'], [ns]]);
  const [stats, edges, routes] = await Promise.all([
    Promise.all(WORKLOAD_KINDS.map((k) => api('stat', { resource: k, namespace: ns }))),
    api('edges', { kind: 'deployment', namespace: ns }),
    api('routes', { resource: `namespace/${ns}`, limit: '20' }),
  ]);
  const rows = stats.flatMap((s) => s.rows);
  return [
    section('Workloads', 'workloads', statTable(rows, (r) => `#/ns/${encodeURIComponent(ns)}/${r.kind}/${encodeURIComponent(r.name)}`, 'workloads')),
    section('Topology', 'topology', topology(edges.edges), edgesTable(edges.edges)),
    section('Top routes', 'routes', routesTable(routes.routes)),
  ];
}

async function renderWorkload(ns, kind, name) {
  crumbs([['namespaces', '#/'], [ns, `#/ns/${encodeURIComponent(ns)}`], [`${kind}/${name}`]]);
  const [pods, proxies, routes, stat] = await Promise.all([
    api('stat', { resource: 'pod', namespace: ns }),
    api('proxies', { namespace: ns }),
    api('routes', { resource: `${kind}/${name}`, namespace: ns }),
    api('stat', { resource: `${kind}/${name}`, namespace: ns }),
  ]);
  const mine = new Set(proxies.proxies.filter((p) => p.workload.kind === kind && p.workload.name === name).map((p) => p.name));
  return [
    section(`${kind}/${name}`, 'workload', statTable(stat.rows, undefined, 'workload')),
    section('Pods', 'pods', statTable(pods.rows.filter((r) => mine.has(r.name)), undefined, 'pods')),
    section('Routes', 'routes', routesTable(routes.routes)),
  ];
}

/** The tap view stays mounted across refreshes; it streams NDJSON from `api/v1/tap`. */
function tapSection(ns, kind, name) {
  const tbody = el('tbody');
  const state = el('span', { class: 'empty', text: 'stopped' });
  const path = el('input', { placeholder: 'path prefix', 'aria-label': 'path prefix' });
  const method = el('input', { placeholder: 'method', 'aria-label': 'method' });
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
    if (e.error) {
      state.textContent = `${e.proxy.pod}: ${e.error}`;
      return;
    }
    const key = `${e.proxy.pod}/${e.id}`;
    if (e.type === 'request') pending.set(key, { ...e });
    if (e.type === 'response' && pending.has(key)) pending.get(key).status = e.status;
    if (e.type !== 'end') return;
    const req = pending.get(key) || {};
    pending.delete(key);
    const row = el('tr', { 'data-testid': 'tap-row' },
      el('td', { text: e.direction }), el('td', { text: e.proxy.pod }),
      el('td', { text: req.method || '' }), el('td', { text: req.authority || '' }), el('td', { text: req.path || '' }),
      el('td', { text: e.tls ? 'mTLS' : 'no' }), el('td', { text: e.clientId || '-' }),
      el('td', { text: req.status !== undefined ? String(req.status) : '' }),
      el('td', { class: 'num', text: fmtMs(e.latencyMs) }), el('td', { class: 'num', text: String(e.responseBytes ?? '') }));
    tbody.prepend(row);
    while (tbody.children.length > 100) tbody.lastChild.remove();
  }
  button.addEventListener('click', () => (tapAbort && !tapAbort.signal.aborted && button.textContent === 'Stop tap' ? tapAbort.abort() : void start()));
  const head = el('tr', {}, ...['dir', 'pod', 'method', 'authority', 'path', 'tls', 'client', 'status', 'latency', 'bytes'].map((h) => el('th', { text: h })));
  return section('Live tap', 'tap', el('div', { class: 'tap-controls' }, method, path, button, state), el('table', { id: 'tap-table', 'data-testid': 'tap' }, el('thead', {}, head), tbody));
}

async function render() {
  const parts = location.hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  let sections;
  if (parts[0] === 'ns' && parts.length === 2) sections = await renderNamespace(parts[1]);
  else if (parts[0] === 'ns' && parts.length === 4) sections = await renderWorkload(parts[1], parts[2], parts[3]);
  else sections = await renderHome();
  const tap = view.querySelector('#tap');
  view.replaceChildren(...sections);
  if (parts.length === 4) view.append(tap || tapSection(parts[1], parts[2], parts[3]));
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

window.addEventListener('hashchange', () => {
  if (tapAbort) tapAbort.abort();
  view.replaceChildren();
  void refresh();
});
$('#window').addEventListener('change', () => void refresh());
void refresh();
