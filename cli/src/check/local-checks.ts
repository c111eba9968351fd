/**
 * `weft check --local`: the local demo has no API server, so its mesh is
 * checked through viz: viz and Prometheus answer, and every proxy serves its
 * metrics and presents a valid certificate carrying its identity.
 */
import type { PresentedCertificate, ProxyTarget } from '@weft/viz';
import { EXPIRY_WARNING_DAYS } from './names.js';
import type { CheckResult } from './checks.js';
import type { VizClient } from '../viz-client.js';

const DAY = 86_400_000;

export async function runLocalChecks(viz: VizClient, now: Date): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const ok = (category: string, description: string) => results.push({ category, description, status: 'ok' });
  const bad = (category: string, description: string, status: 'warn' | 'fail', message: string, fix: string) => results.push({ category, description, status, message, fix });

  let prometheusReady = false;
  try {
    prometheusReady = (await viz.json<{ prometheusReady: boolean }>('/api/v1/version', {})).prometheusReady;
    ok('local-viz', 'viz metrics-api answers');
  } catch (err) {
    bad('local-viz', 'viz metrics-api answers', 'fail', (err as Error).message, 'start the demo (npm start) or pass --api-addr of a running viz');
    return results;
  }
  if (prometheusReady) ok('local-viz', 'Prometheus is ready');
  else bad('local-viz', 'Prometheus is ready', 'fail', 'viz cannot reach a ready Prometheus', 'check WEFT_VIZ_PROMETHEUS_URL and that Prometheus runs');

  const { proxies } = await viz.json<{ proxies: ProxyTarget[] }>('/api/v1/proxies', {});
  if (proxies.length === 0) bad('local-proxies', 'proxies are listed', 'fail', 'viz knows no proxies', 'check WEFT_VIZ_PROXIES_FILE');
  for (const p of proxies) {
    const name = `${p.namespace}/${p.name}`;
    try {
      await viz.text('/api/v1/proxy-metrics', { namespace: p.namespace, pod: p.name });
      ok('local-proxies', `${name} serves its metrics`);
    } catch (err) {
      bad('local-proxies', `${name} serves its metrics`, 'fail', (err as Error).message, `is the proxy of ${name} running? its admin address is ${p.adminAddr}`);
    }
    try {
      const { certificate: c } = await viz.json<{ certificate: PresentedCertificate }>('/api/v1/identity', { namespace: p.namespace, pod: p.name });
      const left = new Date(c.validTo).getTime() - now.getTime();
      if (!c.dnsNames.includes(p.identity)) bad('local-proxies', `${name} presents its identity`, 'fail', `its certificate names ${c.dnsNames.join(', ') || 'nothing'}, not ${p.identity}`, 'restart the proxy so it certifies again with identity');
      else if (left < 0) bad('local-proxies', `${name} presents its identity`, 'fail', `its certificate expired at ${c.validTo}`, 'the proxy renews at 70 % of the lifetime: check that identity is running');
      else if (left < EXPIRY_WARNING_DAYS * DAY && left < (new Date(c.validTo).getTime() - new Date(c.validFrom).getTime()) * 0.3) {
        bad('local-proxies', `${name} presents its identity`, 'warn', `its certificate expires at ${c.validTo} and was not renewed`, 'check that identity is running; the proxy renews at 70 % of the lifetime');
      } else ok('local-proxies', `${name} presents its identity`);
    } catch (err) {
      bad('local-proxies', `${name} presents its identity`, 'fail', (err as Error).message, `is the proxy of ${name} running and holding a certificate? its tap address is ${p.tapAddr}`);
    }
  }
  return results;
}
