/**
 * Outbound, last layer: sends a request to the chosen endpoint. A meshed
 * endpoint (discovery gave an identity) is reached through its proxy's
 * inbound port over mTLS, on one multiplexed HTTP/2 session per peer;
 * HTTP/1 requests travel as HTTP/2 marked `weft-orig-proto: HTTP/1.1` and the
 * application port travels in `weft-dst-port`. Unmeshed endpoints get
 * plaintext in the client's own HTTP version.
 */
import type { Endpoint, Headers, NewHttp } from '../svc.js';
import type { LocalIdentity } from '../identity/local-identity.js';
import type { H2Pool, H2Peer } from '../http/h2-client.js';
import type { Http1Client } from '../http/h1-client.js';
import { DST_PORT, ORIG_PROTO } from '../http/headers.js';
import { ALPN_H2, connectMesh } from '../transport/tls.js';
import { UnavailableError } from '@weft/common/errors';
import type { TcpTargetMetrics } from '../metrics/proxy-metrics.js';
import { countConnection } from './tcp-metrics.js';

export interface EndpointClientDeps {
  readonly h2: H2Pool;
  readonly h1: Http1Client;
  readonly identity: LocalIdentity;
  /** TCP metrics (`peer="dst"`) for the mTLS connections to peer proxies. */
  readonly bindTcp?: (ep: Endpoint) => TcpTargetMetrics;
}

export function endpointClient(deps: EndpointClientDeps): NewHttp<Endpoint> {
  return (ep) => {
    const { ip, port } = ep.addr;
    const host = ip.includes(':') ? `[${ip}]` : ip;
    if (ep.identity !== undefined && ep.inboundPort !== undefined) {
      const identity = ep.identity;
      const inboundPort = ep.inboundPort;
      const peer: H2Peer = {
        key: `${host}:${inboundPort}|${identity}`,
        label: `${host}:${inboundPort} (${identity})`,
        origin: `https://${host}:${inboundPort}`,
        connect: () => {
          const creds = deps.identity.current()!;
          const socket = connectMesh({ host: ip, port: inboundPort, identity, alpn: ALPN_H2, creds, anchors: deps.identity.trustAnchors });
          if (deps.bindTcp) countConnection(socket, deps.bindTcp(ep));
          return socket;
        },
      };
      const asH2: Headers = { [DST_PORT]: String(port) };
      const asH1: Headers = { [DST_PORT]: String(port), [ORIG_PROTO]: 'HTTP/1.1' };
      return (req) => {
        if (!deps.identity.current()) return Promise.reject(new UnavailableError('weft: no certificate yet; cannot reach meshed endpoints'));
        return deps.h2.request(peer, req, req.version === 'HTTP/1.1' ? asH1 : asH2);
      };
    }
    const h2c: H2Peer = { key: `h2c:${host}:${port}`, label: `${host}:${port}`, origin: `http://${host}:${port}` };
    return (req) => (req.version === 'HTTP/2' ? deps.h2.request(h2c, req) : deps.h1.request(ep.addr, req));
  };
}
