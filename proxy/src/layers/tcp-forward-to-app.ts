/**
 * Inbound opaque TCP: connects to the application in the pod (the target
 * inbound/app-target.ts chose, as the authorize layer checked) and copies
 * bytes both ways (half-close and backpressure kept).
 */
import net from 'node:net';
import type { TcpService } from '../svc.js';
import { pipeBoth } from '../transport/pipe.js';
import { tcpAppTarget, type AppTargetOptions } from '../inbound/app-target.js';

export function tcpForwardToApp(target: AppTargetOptions): TcpService {
  return async (conn) => {
    const t = tcpAppTarget(conn.meta, target);
    if (t.refused !== undefined) {
      conn.socket.destroy();
      throw new Error(`inbound TCP connection refused: ${t.refused}`);
    }
    const app = net.connect({ host: t.addr.ip, port: t.addr.port, allowHalfOpen: true, noDelay: true });
    await pipeBoth(conn.socket, app, conn.head);
  };
}
