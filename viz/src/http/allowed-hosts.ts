/**
 * The Host names viz answers to: a DNS rebinding defence. A web page on
 * evil.example can re-point its own name at 127.0.0.1 (where a port-forward or
 * the local demo serves viz) and then read viz's answers as same-origin; its
 * requests still carry `Host: evil.example`. So every request whose Host is
 * not one of viz's names is refused with 403.
 *
 * Allowed: `localhost`, any IP literal (a rebinding attack needs a name it
 * controls; the kubelet's probes and in-cluster callers that dial the pod IP
 * send an IP), viz's Service names in its namespace, and configured extras
 * (e.g. an ingress host).
 */
import { isIP } from 'node:net';
import { InvalidArgumentError } from '../errors.js';

/** The chart's Services in front of viz's three listeners. */
export const VIZ_SERVICE_NAMES = ['weft-metrics-api', 'weft-tap', 'weft-web'] as const;

const HOSTNAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$/;

/** `<svc>.<ns>`, `<svc>.<ns>.svc` and `<svc>.<ns>.svc.<clusterDomain>` for each Service. */
export function serviceHostNames(services: readonly string[], namespace: string, clusterDomain: string): string[] {
  return services.flatMap((s) => [`${s}.${namespace}`, `${s}.${namespace}.svc`, `${s}.${namespace}.svc.${clusterDomain}`]);
}

/** The host part of a Host header, lower-cased, without port, brackets or a trailing dot; undefined when malformed. */
export function hostOf(header: string): string | undefined {
  const h = header.trim().toLowerCase();
  const m = /^\[([0-9a-f:.]+)\](?::\d{1,5})?$/.exec(h) ?? /^([^:[\]]+)(?::\d{1,5})?$/.exec(h);
  return m ? m[1]!.replace(/\.$/, '') : undefined;
}

export class AllowedHosts {
  private readonly names: ReadonlySet<string>;

  /** `names`: hosts allowed besides localhost and IP literals; each a DNS name without port. */
  constructor(names: readonly string[] = []) {
    const normal = names.map((n) => n.trim().toLowerCase().replace(/\.$/, ''));
    normal.forEach((n, i) => {
      if (!HOSTNAME.test(n) && isIP(n) === 0) throw new InvalidArgumentError(`allowed host "${names[i]}" is not a DNS name or IP address (no scheme, no port)`);
    });
    this.names = new Set(['localhost', ...normal]);
  }

  allows(header: string | undefined): boolean {
    if (!header) return false;
    const host = hostOf(header);
    if (host === undefined) return false;
    return isIP(host) !== 0 || this.names.has(host);
  }
}
