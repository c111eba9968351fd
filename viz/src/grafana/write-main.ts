/** `npm run grafana -w viz`: writes viz/grafana/*.json from dashboards.ts. */
import { writeFileSync } from 'node:fs';
import { renderDashboardFiles } from './dashboards.js';

const dir = new URL('../../grafana/', import.meta.url);
for (const [name, text] of renderDashboardFiles()) writeFileSync(new URL(name, dir), text);
process.stdout.write(`wrote ${[...renderDashboardFiles().keys()].join(', ')} to viz/grafana/\n`);
