/**
 * Parses the authority a proxy asks about into a lookup target:
 *   <svc>.<ns>.svc.<clusterDomain>:<port>           a service
 *   <host>.<svc>.<ns>.svc.<clusterDomain>:<port>    one endpoint of a headless service (by hostname)
 *   <ip>:<port>, [<ipv6>]:<port>                    a cluster IP or a pod IP
 * The `.<clusterDomain>` suffix may be omitted (`web.demo.svc:80`); the port
 * defaults to 80. Anything else is outside the cluster.
 */
import { isIP } from 'node:net';
import { InvalidArgumentError } from '@weft/common/errors';

export type Target =
  | { readonly kind: 'service'; readonly namespace: string; readonly name: string; readonly port: number; readonly hostname?: string }
  | { readonly kind: 'ip'; readonly ip: string; readonly port: number }
  | { readonly kind: 'external'; readonly host: string; readonly port: number };

export function parseAuthority(authority: string, clusterDomain: string): Target {
  const raw = authority.trim();
  if (raw === '') throw new InvalidArgumentError('empty authority');
  let host: string;
  let portText: string | undefined;
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(raw);
  if (v6) {
    host = v6[1]!;
    portText = v6[2];
  } else if (isIP(raw) === 6) {
    host = raw;
  } else {
    const i = raw.lastIndexOf(':');
    host = i < 0 ? raw : raw.slice(0, i);
    portText = i < 0 ? undefined : raw.slice(i + 1);
  }
  let port = 80;
  if (portText !== undefined) {
    if (!/^\d{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) {
      throw new InvalidArgumentError(`authority "${authority}": "${portText}" is not a port`);
    }
    port = Number(portText);
  }
  if (isIP(host)) return { kind: 'ip', ip: host, port };
  const name = host.toLowerCase().replace(/\.$/, '');
  const suffix = `.svc.${clusterDomain}`;
  const local = name.endsWith(suffix) ? name.slice(0, -suffix.length) : name.endsWith('.svc') ? name.slice(0, -4) : undefined;
  if (local === undefined) return { kind: 'external', host: name, port };
  const labels = local.split('.');
  if (labels.length === 2) return { kind: 'service', name: labels[0]!, namespace: labels[1]!, port };
  if (labels.length === 3) return { kind: 'service', hostname: labels[0]!, name: labels[1]!, namespace: labels[2]!, port };
  return { kind: 'external', host: name, port };
}
