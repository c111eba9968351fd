/**
 * Inbound authorization, the first thing a request or connection meets after
 * TLS: the application port's policy (layers read it per request, so a
 * policy change applies to the next request or connection without touching
 * those in flight) decides from the client's address, its mesh identity and,
 * for HTTP, the request (kubelet probe paths, routes attached to the Server). Denied HTTP gets 403, gRPC
 * PERMISSION_DENIED with the reason; a denied TCP connection is closed
 * before a byte reaches the application. The port whose policy applies is
 * the one forwarding will connect to (inbound/app-target.ts); a target that
 * is no application port at all (one of the proxy's own ports, a malformed
 * port header) is denied under the `refused` server, never given a default.
 */
import { PermissionDeniedError } from '@weft/common/errors';
import type { ConnMeta, HttpLayer, TcpConn, TcpService } from '../svc.js';
import type { InboundPolicies } from '../policy/policies.js';
import { authorize, type Decision, type HttpFacts, type ServerPolicy } from '../policy/server-policy.js';
import type { AuthzMetrics } from '../metrics/authz-metrics.js';
import { httpAppTarget, tcpAppTarget, type AppTargetOptions } from '../inbound/app-target.js';

export interface AuthorizeDeps {
  readonly policies: InboundPolicies;
  readonly metrics: AuthzMetrics;
  /** How the application target is chosen (the same options the forwarding layers get). */
  readonly target: AppTargetOptions;
}

export class UnauthorizedError extends PermissionDeniedError {}

/** Labels the denials of targets that are not application ports (`srv_kind="proxy"`, `srv_name="refused"`). */
const REFUSED: ServerPolicy = { name: 'refused', kind: 'proxy', authorizations: [] };

function decide(p: ServerPolicy, meta: ConnMeta, http: HttpFacts | undefined): Decision {
  return authorize(p, { ip: meta.client.ip, identity: meta.tls.identity }, http);
}

export function authorizeHttp(d: AuthorizeDeps): HttpLayer {
  return (inner) => (req) => {
    const t = httpAppTarget(req, d.target);
    if (t.refused !== undefined) {
      d.metrics.deny('http', REFUSED, req.conn.tls.identity !== undefined).inc();
      req.body.resume();
      return Promise.reject(new UnauthorizedError(`weft: ${t.refused}`));
    }
    const check = (p: ServerPolicy) => {
      const tls = req.conn.tls.identity !== undefined;
      const r = decide(p, req.conn, req);
      if (!r.allowed) {
        d.metrics.deny('http', p, tls).inc();
        // The body is not wanted; drop it so the connection can carry on.
        req.body.resume();
        return Promise.reject(new UnauthorizedError(`weft: ${r.reason}`));
      }
      d.metrics.allow('http', p, r.authz, tls).inc();
      return inner(req);
    };
    const p = d.policies.policyFor(t.addr.port);
    return p instanceof Promise ? p.then(check) : check(p);
  };
}

export function authorizeTcp(d: AuthorizeDeps): (inner: TcpService) => TcpService {
  return (inner) => (conn: TcpConn) => {
    const t = tcpAppTarget(conn.meta, d.target);
    if (t.refused !== undefined) {
      d.metrics.deny('tcp', REFUSED, conn.meta.tls.identity !== undefined).inc();
      conn.socket.destroy();
      return Promise.reject(new UnauthorizedError(`weft: ${t.refused}`));
    }
    const check = (p: ServerPolicy): Promise<void> => {
      const tls = conn.meta.tls.identity !== undefined;
      const r = decide(p, conn.meta, undefined);
      if (!r.allowed) {
        d.metrics.deny('tcp', p, tls).inc();
        conn.socket.destroy();
        return Promise.reject(new UnauthorizedError(`weft: ${r.reason}`));
      }
      d.metrics.allow('tcp', p, r.authz, tls).inc();
      return inner(conn);
    };
    const p = d.policies.policyFor(t.addr.port);
    return p instanceof Promise ? p.then(check) : check(p);
  };
}
