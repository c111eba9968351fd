/**
 * Outbound opaque TCP, last layer: opens the connection to the chosen
 * endpoint and copies bytes. Meshed endpoints get mTLS to their proxy's
 * inbound port with ALPN `weft.tcp` and the 3-byte header naming the
 * application port; others get a plain TCP connection.
 */
import net from 'node:net';
import type { Duplex } from 'node:stream';
import type { Endpoint, NewTcp } from '../svc.js';
import type { LocalIdentity } from '../identity/local-identity.js';
import type { TcpTargetMetrics } from '../metrics/proxy-metrics.js';
import { ALPN_TCP, connectMesh } from '../transport/tls.js';
import { boundConnect } from '@weft/common/connect-bound';
import type { ConnectionSettings } from '../transport/connections.js';
import { encodeOpaqueHeader } from '../transport/opaque-header.js';
import { pipeBoth } from '../transport/pipe.js';
import { countConnection } from './tcp-metrics.js';
import { UnavailableError } from '@weft/common/errors';

export interface TcpEndpointDeps {
  readonly identity: LocalIdentity;
  /** Metrics for the connection to the endpoint (`peer="dst"`). */
  readonly bind: (ep: Endpoint) => TcpTargetMetrics;
  readonly connections: ConnectionSettings;
}

export function tcpEndpoint(deps: TcpEndpointDeps): NewTcp<Endpoint> {
  return (ep) => {
    const m = deps.bind(ep);
    return async (conn) => {
      let upstream: Duplex;
      if (ep.identity !== undefined && ep.inboundPort !== undefined) {
        const creds = deps.identity.current();
        if (!creds) {
          conn.socket.destroy();
          throw new UnavailableError('weft: no certificate yet; cannot reach meshed endpoints');
        }
        const tlsSocket = connectMesh({ host: ep.addr.ip, port: ep.inboundPort, identity: ep.identity, alpn: ALPN_TCP, creds, anchors: deps.identity.trustAnchors, connections: deps.connections });
        tlsSocket.write(encodeOpaqueHeader(ep.addr.port));
        upstream = tlsSocket;
      } else {
        upstream = boundConnect(net.connect({ host: ep.addr.ip, port: ep.addr.port, allowHalfOpen: true, noDelay: true }), `${ep.addr.ip}:${ep.addr.port}`, deps.connections);
      }
      countConnection(upstream, m);
      await pipeBoth(conn.socket, upstream, conn.head);
    };
  };
}
