/* global document */
// Building DOM nodes without HTML strings: text goes in with textContent, so
// labels, paths and identities from the mesh cannot inject markup.
const SVG_TAGS = new Set(['svg', 'g', 'line', 'circle', 'text', 'path', 'marker', 'defs', 'title']);

/** `svg:a` is a link inside an SVG drawing; other SVG tags are known by name. */
export function el(tag, attrs = {}, ...children) {
  const svg = SVG_TAGS.has(tag) || tag.startsWith('svg:');
  const node = svg ? document.createElementNS('http://www.w3.org/2000/svg', tag.replace(/^svg:/, '')) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null) continue;
    if (k === 'text') node.textContent = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) if (c !== undefined && c !== null) node.append(c);
  return node;
}
