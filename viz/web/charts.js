/* global document, getComputedStyle, uPlot */
import { el } from './dom.js';
// Time series of one object (success rate, rps, p50/p95/p99 latency) drawn
// with uPlot (served by viz under vendor/, loaded before app.js). The charts
// stay mounted while the page and window stay the same; each refresh swaps
// their data in place, so the page does not flicker.

const css = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();

const fmtPercent = (v) => (v === null || v === undefined ? '-' : `${(v * 100).toFixed(1)}%`);
const fmtRps = (v) => (v === null || v === undefined ? '-' : v.toFixed(2));
const fmtMs = (v) => (v === null || v === undefined ? '-' : `${Math.round(v)} ms`);

/** The three charts: which fields of the API answer they draw, and how. */
const CHARTS = [
  {
    metric: 'success',
    title: 'Success rate',
    fields: [['successRate', 'success', '--chart-sr']],
    fmt: fmtPercent,
    range: (_u, min) => [Math.max(0, Math.min(min ?? 1, 0.95) - 0.02), 1],
  },
  {
    metric: 'rps',
    title: 'Requests per second',
    fields: [['rps', 'rps', '--chart-rps']],
    fmt: fmtRps,
    range: (_u, _min, max) => [0, Math.max(max ?? 1, 0.1) * 1.1],
  },
  {
    metric: 'latency',
    title: 'Latency',
    fields: [
      ['latencyMsP50', 'p50', '--chart-p50'],
      ['latencyMsP95', 'p95', '--chart-p95'],
      ['latencyMsP99', 'p99', '--chart-p99'],
    ],
    fmt: fmtMs,
    range: (_u, _min, max) => [0, Math.max(max ?? 1, 1) * 1.1],
  },
];

/** Dots where there are few points with data (a lone point between gaps is no line). */
function sparse(u, seriesIdx) {
  return u.data[seriesIdx].filter((v) => v !== null).length <= 12;
}

/** Seconds between x ticks uPlot may choose from: several ticks for every window from 30s to 1h. */
const TIME_INCRS = [1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600, 900, 1200, 1800, 3600];

/** 24-hour clock times on the x axis: with seconds when ticks are less than a minute apart. */
function timeTicks(_u, ticks, _axis, _space, incr) {
  const opts =
    incr < 60
      ? { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' }
      : { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' };
  return ticks.map((t) => new Date(t * 1000).toLocaleTimeString([], opts));
}

function optionsOf(chart, width) {
  const fg = css('--fg');
  const grid = css('--grid');
  const axis = { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
  return {
    width,
    height: 190,
    legend: { live: true },
    cursor: { drag: { x: false, y: false } },
    scales: { x: { time: true }, y: { range: chart.range } },
    series: [
      {},
      ...chart.fields.map(([, label, color]) => ({
        label,
        stroke: css(color),
        width: 2,
        spanGaps: false,
        points: { show: sparse, size: 5, fill: css(color) },
        value: (_u, v) => chart.fmt(v),
      })),
    ],
    axes: [
      { ...axis, space: 60, incrs: TIME_INCRS, values: timeTicks },
      { ...axis, size: 64, values: (_u, ticks) => ticks.map(chart.fmt) },
    ],
  };
}

function dataOf(chart, ts) {
  return [ts.timestamps, ...chart.fields.map(([field]) => ts[field])];
}

/**
 * A section with the three charts. `update(ts)` draws an answer of
 * `api/v1/timeseries`; `redraw()` rebuilds them (theme or size changed).
 */
export function timeSeriesSection(title) {
  const boxes = CHARTS.map((c) =>
    el('div', { class: 'chart', 'data-testid': 'chart', 'data-metric': c.metric, 'data-points': '0' }, el('h3', { text: c.title })),
  );
  const note = el('p', { class: 'chart-note' });
  const section = el('section', { id: 'timeseries' }, el('h2', { text: title }), el('div', { class: 'charts' }, ...boxes), note);
  const plots = [];
  let last;
  const width = (box) => Math.max(240, Math.floor(box.getBoundingClientRect().width) - 4);
  function draw() {
    for (const p of plots.splice(0)) p.destroy();
    CHARTS.forEach((c, i) => plots.push(new uPlot(optionsOf(c, width(boxes[i])), last ? dataOf(c, last) : [[]], boxes[i])));
  }
  return {
    section,
    update(ts) {
      last = ts;
      if (plots.length === 0) draw();
      CHARTS.forEach((c, i) => {
        plots[i].setData(dataOf(c, ts));
        const points = c.fields.reduce((n, [field]) => n + ts[field].filter((v) => v !== null).length, 0);
        boxes[i].setAttribute('data-points', String(points));
      });
      note.textContent = `${ts.timestamps.length} points, one every ${ts.step}s; each a rate over ${ts.rateInterval}`;
    },
    redraw() {
      if (plots.length > 0) draw();
    },
  };
}
