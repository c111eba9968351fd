/**
 * TCP metrics for a connection: tcp_open_total / tcp_open_connections on
 * open; on close tcp_close_total, tcp_connection_duration_ms and the bytes
 * the socket read and wrote (taken from the socket's own counters, so the
 * byte path has no extra listener).
 */
import { performance } from 'node:perf_hooks';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TcpTargetMetrics } from '../metrics/proxy-metrics.js';

/** Counts one socket's life under `m`. */
export function countConnection(socket: Duplex, m: TcpTargetMetrics): void {
  const start = performance.now();
  m.open.inc();
  m.openConnections.inc();
  socket.once('close', () => {
    const s = socket as Partial<Socket>;
    m.close.inc();
    m.openConnections.dec();
    m.duration.observe(performance.now() - start);
    m.readBytes.inc(s.bytesRead ?? 0);
    m.writeBytes.inc(s.bytesWritten ?? 0);
  });
}
