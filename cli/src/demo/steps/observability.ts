/** Prometheus scraping every demo proxy, and viz reading Prometheus and tapping the proxies. */
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { startViz, StaticTargetSource, renderScrapeConfig, type ProxyTarget, type Viz } from '@weft/viz';
import type { ControlPlane } from './control-plane.js';
import type { PodPlan } from './pods.js';
import { spawnLogged, waitReady, type Teardown } from './teardown.js';
import { DEMO_NAMESPACE, VIZ_SERVICE_ACCOUNT } from '../topology.js';

export function scrapeTargets(plans: readonly PodPlan[]): ProxyTarget[] {
  return plans.map((p) => ({
    name: `${p.workload.name}-0`,
    namespace: DEMO_NAMESPACE,
    workload: { kind: 'deployment', name: p.workload.name },
    adminAddr: `${p.ip}:${p.ports.admin}`,
    tapAddr: `${p.ip}:${p.ports.tap}`,
    identity: p.identity,
  }));
}

/** Returns Prometheus' URL once it is ready. */
export async function startPrometheus(
  targets: readonly ProxyTarget[],
  port: number,
  c: { dir: string; log: Logger; teardown: Teardown },
): Promise<string> {
  const url = `http://127.0.0.1:${port}`;
  const config = join(c.dir, 'prometheus.yml');
  writeFileSync(config, renderScrapeConfig(targets, { scrapeInterval: '2s' }));
  spawnLogged(
    'prometheus',
    [
      'prometheus',
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(c.dir, 'tsdb')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    process.env,
    c.log,
    c.teardown,
  );
  await waitReady('prometheus', `${url}/-/ready`);
  return url;
}

export async function startDemoViz(
  targets: readonly ProxyTarget[],
  prometheusUrl: string,
  ports: { api: number; tap: number; web: number },
  c: { control: ControlPlane; log: Logger; teardown: Teardown },
): Promise<Viz> {
  const tapCert = await c.control.certificate(VIZ_SERVICE_ACCOUNT);
  const viz = await startViz({
    prometheusUrl,
    targets: new StaticTargetSource([...targets]),
    tapTls: { ca: tapCert.ca, cert: tapCert.cert, key: tapCert.key },
    api: { host: '127.0.0.1', port: ports.api },
    tap: { host: '127.0.0.1', port: ports.tap },
    web: { host: '127.0.0.1', port: ports.web },
    log: c.log.child({ component: 'viz' }),
  });
  c.teardown.add('viz', () => viz.close());
  return viz;
}
