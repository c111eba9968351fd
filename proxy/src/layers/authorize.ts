/**
 * Inbound authorization, the first thing a request or connection meets after
 * TLS: the application port's policy (layers read it per request, so a
 * policy change applies to the next request or connection without touching
 * those in flight) decides from the client's address, its mesh identity and,
 * for HTTP, the path (kubelet probes). Denied HTTP gets 403, gRPC
 * PERMISSION_DENIED with the reason; a denied TCP connection is closed
 * before a byte reaches the application.
 */
import { PermissionDeniedError } from '@weft/common/errors';
import type { ConnMeta, HttpLayer, HttpRequest, TcpConn, TcpService } from '../svc.js';
import type { InboundPolicies } from '../policy/policies.js';
import { authorize, type Decision, type ServerPolicy } from '../policy/server-policy.js';
import type { AuthzMetrics } from '../metrics/authz-metrics.js';
import { DST_PORT } from '../http/headers.js';

export interface AuthorizeDeps {
  readonly policies: InboundPolicies;
  readonly metrics: AuthzMetrics;
  /** Explicit mode: the application port of connections without an original destination. */
  readonly defaultAppPort: number | undefined;
}

export class UnauthorizedError extends PermissionDeniedError {}

/** The application port a request is for: named by the peer proxy, else the original destination, else the default. */
function httpPort(req: HttpRequest, fallback: number | undefined): number | undefined {
  const named = req.headers[DST_PORT];
  if (typeof named === 'string') return Number(named);
  return req.conn.origDst?.port ?? fallback;
}

function decide(p: ServerPolicy, meta: ConnMeta, path: string | undefined): Decision {
  return authorize(p, { ip: meta.client.ip, identity: meta.tls.identity }, path);
}

export function authorizeHttp(d: AuthorizeDeps): HttpLayer {
  return (inner) => (req) => {
    const check = (p: ServerPolicy) => {
      const tls = req.conn.tls.identity !== undefined;
      const r = decide(p, req.conn, req.path);
      if (!r.allowed) {
        d.metrics.deny('http', p, tls).inc();
        // The body is not wanted; drop it so the connection can carry on.
        req.body.resume();
        return Promise.reject(new UnauthorizedError(`weft: ${r.reason}`));
      }
      d.metrics.allow('http', p, r.authz, tls).inc();
      return inner(req);
    };
    const p = d.policies.policyFor(httpPort(req, d.defaultAppPort));
    return p instanceof Promise ? p.then(check) : check(p);
  };
}

export function authorizeTcp(d: AuthorizeDeps): (inner: TcpService) => TcpService {
  return (inner) => (conn: TcpConn) => {
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
    const p = d.policies.policyFor(conn.meta.origDst?.port ?? d.defaultAppPort);
    return p instanceof Promise ? p.then(check) : check(p);
  };
}
