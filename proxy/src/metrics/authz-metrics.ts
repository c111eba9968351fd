/**
 * Inbound authorization families (docs/contracts.md):
 * `inbound_http_authz_allow_total` / `inbound_http_authz_deny_total` per
 * request, `inbound_tcp_authz_allow_total` / `inbound_tcp_authz_deny_total`
 * per connection, labelled with the server (`srv_kind`, `srv_name`) and,
 * when allowed, the authorization that admitted (`authz_kind`, `authz_name`).
 * Created once per registry; children cached per label set.
 */
import { Counter, type Registry } from 'prom-client';

type CounterChild = ReturnType<Counter<string>['labels']>;

const ALLOW_LABELS = ['direction', 'srv_kind', 'srv_name', 'authz_kind', 'authz_name', 'tls'];
const DENY_LABELS = ['direction', 'srv_kind', 'srv_name', 'tls'];

export class AuthzMetrics {
  private readonly httpAllow: Counter<string>;
  private readonly httpDeny: Counter<string>;
  private readonly tcpAllow: Counter<string>;
  private readonly tcpDeny: Counter<string>;
  private readonly children = new Map<string, CounterChild>();

  constructor(registry: Registry) {
    const registers = [registry];
    this.httpAllow = new Counter({ name: 'inbound_http_authz_allow_total', help: 'Inbound HTTP requests authorized', labelNames: ALLOW_LABELS, registers });
    this.httpDeny = new Counter({ name: 'inbound_http_authz_deny_total', help: 'Inbound HTTP requests denied by policy', labelNames: DENY_LABELS, registers });
    this.tcpAllow = new Counter({ name: 'inbound_tcp_authz_allow_total', help: 'Inbound TCP connections authorized', labelNames: ALLOW_LABELS, registers });
    this.tcpDeny = new Counter({ name: 'inbound_tcp_authz_deny_total', help: 'Inbound TCP connections denied by policy', labelNames: DENY_LABELS, registers });
  }

  allow(proto: 'http' | 'tcp', srvKind: string, srvName: string, authzKind: string, authzName: string, tls: boolean): CounterChild {
    const key = `a|${proto}|${srvKind}|${srvName}|${authzKind}|${authzName}|${tls ? 1 : 0}`;
    let c = this.children.get(key);
    if (!c) {
      const labels = { direction: 'inbound', srv_kind: srvKind, srv_name: srvName, authz_kind: authzKind, authz_name: authzName, tls: tls ? 'true' : 'no_identity' };
      this.children.set(key, (c = (proto === 'http' ? this.httpAllow : this.tcpAllow).labels(labels)));
    }
    return c;
  }

  deny(proto: 'http' | 'tcp', srvKind: string, srvName: string, tls: boolean): CounterChild {
    const key = `d|${proto}|${srvKind}|${srvName}|${tls ? 1 : 0}`;
    let c = this.children.get(key);
    if (!c) {
      const labels = { direction: 'inbound', srv_kind: srvKind, srv_name: srvName, tls: tls ? 'true' : 'no_identity' };
      this.children.set(key, (c = (proto === 'http' ? this.httpDeny : this.tcpDeny).labels(labels)));
    }
    return c;
  }
}

const byRegistry = new WeakMap<Registry, AuthzMetrics>();

export function authzMetrics(registry: Registry): AuthzMetrics {
  let m = byRegistry.get(registry);
  if (!m) byRegistry.set(registry, (m = new AuthzMetrics(registry)));
  return m;
}
