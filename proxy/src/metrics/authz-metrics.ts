/**
 * Inbound authorization families (docs/contracts.md):
 * `inbound_http_authz_allow_total` / `inbound_http_authz_deny_total` per
 * request, `inbound_tcp_authz_allow_total` / `inbound_tcp_authz_deny_total`
 * per connection, labelled with the server (`srv_kind`, `srv_name`) and,
 * when allowed, the authorization that admitted (`authz_kind`, `authz_name`).
 * Created once per registry; children cached per label set.
 */
import { Counter, type Registry } from 'prom-client';
import { BoundCounter } from './bound.js';

type CounterChild = BoundCounter;
/** A server policy or an authorization: what the labels name. */
interface Named {
  readonly name: string;
  readonly kind: string;
}

const ALLOW_LABELS = ['direction', 'srv_kind', 'srv_name', 'authz_kind', 'authz_name', 'tls'];
const DENY_LABELS = ['direction', 'srv_kind', 'srv_name', 'tls'];

export class AuthzMetrics {
  private readonly httpAllow: Counter<string>;
  private readonly httpDeny: Counter<string>;
  private readonly tcpAllow: Counter<string>;
  private readonly tcpDeny: Counter<string>;
  // Keyed by the compiled policy objects, which live as long as the policy is in force.
  private readonly allowed = new WeakMap<object, CounterChild[]>();
  private readonly denied = new WeakMap<object, CounterChild[]>();

  constructor(registry: Registry) {
    const registers = [registry];
    this.httpAllow = new Counter({ name: 'inbound_http_authz_allow_total', help: 'Inbound HTTP requests authorized', labelNames: ALLOW_LABELS, registers });
    this.httpDeny = new Counter({ name: 'inbound_http_authz_deny_total', help: 'Inbound HTTP requests denied by policy', labelNames: DENY_LABELS, registers });
    this.tcpAllow = new Counter({ name: 'inbound_tcp_authz_allow_total', help: 'Inbound TCP connections authorized', labelNames: ALLOW_LABELS, registers });
    this.tcpDeny = new Counter({ name: 'inbound_tcp_authz_deny_total', help: 'Inbound TCP connections denied by policy', labelNames: DENY_LABELS, registers });
  }

  /** The allow counter for an authorization of a server; children are bound once per (authz, protocol, tls). */
  allow(proto: 'http' | 'tcp', srv: Named, authz: Named, tls: boolean): CounterChild {
    let slots = this.allowed.get(authz);
    if (!slots) this.allowed.set(authz, (slots = []));
    const i = (proto === 'http' ? 0 : 2) + (tls ? 1 : 0);
    return (slots[i] ??= new BoundCounter(proto === 'http' ? this.httpAllow : this.tcpAllow, {
      direction: 'inbound',
      srv_kind: srv.kind,
      srv_name: srv.name,
      authz_kind: authz.kind,
      authz_name: authz.name,
      tls: tls ? 'true' : 'no_identity',
    }));
  }

  deny(proto: 'http' | 'tcp', srv: Named, tls: boolean): CounterChild {
    let slots = this.denied.get(srv);
    if (!slots) this.denied.set(srv, (slots = []));
    const i = (proto === 'http' ? 0 : 2) + (tls ? 1 : 0);
    return (slots[i] ??= new BoundCounter(proto === 'http' ? this.httpDeny : this.tcpDeny, {
      direction: 'inbound',
      srv_kind: srv.kind,
      srv_name: srv.name,
      tls: tls ? 'true' : 'no_identity',
    }));
  }
}

const byRegistry = new WeakMap<Registry, AuthzMetrics>();

export function authzMetrics(registry: Registry): AuthzMetrics {
  let m = byRegistry.get(registry);
  if (!m) byRegistry.set(registry, (m = new AuthzMetrics(registry)));
  return m;
}
