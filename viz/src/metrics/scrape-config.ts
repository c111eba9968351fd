/**
 * The Prometheus configuration for a static proxy list (local demo, tests).
 * Each target carries `namespace`, `pod` and `<workload kind>` target labels,
 * the same labels the Kubernetes scrape job attaches through relabelling, so
 * `up{job="weft-proxy"}` counts meshed pods per object either way.
 */
import { stringify } from 'yaml';
import type { ProxyTarget } from '../targets.js';

export interface ScrapeConfigOptions {
  /** e.g. `1s` in tests, `10s` by default. */
  readonly scrapeInterval?: string;
}

export function renderScrapeConfig(targets: readonly ProxyTarget[], opts: ScrapeConfigOptions = {}): string {
  const interval = opts.scrapeInterval ?? '10s';
  return stringify({
    global: { scrape_interval: interval, evaluation_interval: interval },
    scrape_configs: [
      {
        job_name: 'weft-proxy',
        // The proxy's own labels (namespace, pod, workload) win over target labels.
        honor_labels: true,
        metrics_path: '/metrics',
        static_configs: targets.map((t) => ({
          targets: [t.adminAddr],
          labels: { namespace: t.namespace, pod: t.name, [t.workload.kind]: t.workload.name },
        })),
      },
    ],
  });
}
