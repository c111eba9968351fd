/**
 * Inbound opaque TCP: connects to the application port on the pod's loopback
 * and copies bytes both ways (half-close and backpressure kept).
 */
import net from 'node:net';
import type { TcpService } from '../svc.js';
import { pipeBoth } from '../transport/pipe.js';

export interface TcpForwardOptions {
  readonly appHost: string;
  readonly defaultAppPort: number | undefined;
}

export function tcpForwardToApp(opts: TcpForwardOptions): TcpService {
  return async (conn) => {
    const port = conn.meta.origDst?.port ?? opts.defaultAppPort;
    if (port === undefined) {
      conn.socket.destroy();
      throw new Error('inbound TCP connection has no application port (no original destination and no default)');
    }
    const app = net.connect({ host: opts.appHost, port, allowHalfOpen: true });
    await pipeBoth(conn.socket, app);
  };
}
