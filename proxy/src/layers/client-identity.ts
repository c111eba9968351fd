/**
 * Inbound: tells the application who called, in `weft-client-id` (the
 * client's mesh identity, as `l5d-client-id` does in Linkerd). Always
 * overwritten, so no client can spoof it; absent for plaintext clients.
 */
import type { HttpLayer } from '../svc.js';
import { CLIENT_ID } from '../http/headers.js';

export function clientIdentity(): HttpLayer {
  return (inner) => (req) => {
    const id = req.conn.tls.identity;
    if (id === undefined && req.headers[CLIENT_ID] === undefined) return inner(req);
    const headers = { ...req.headers };
    if (id === undefined) delete headers[CLIENT_ID];
    else headers[CLIENT_ID] = id;
    return inner({ ...req, headers });
  };
}
