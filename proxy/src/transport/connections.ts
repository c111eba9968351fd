/**
 * How the proxy opens its connections and tells that a peer has gone: the bounds on a TCP connect and a TLS
 * handshake, TCP keepalive, the user timeout on connections between proxies, and the PING interval of sessions to
 * peer proxies. One value per proxy, from its environment (config.ts: WEFT_PROXY_CONNECT_TIMEOUT and the rest;
 * docs/contracts.md), handed to everything that connects or accepts.
 *
 * With the defaults, a peer whose node vanished is found within ~20 s however its connection stood: idle (keepalive:
 * 10 s, then ten probes a second apart), with bytes in flight (the user timeout, 20 s), or a session with streams
 * waiting on it (a PING after 10 s without a byte, 10 s for its answer).
 */
import { CONNECT_BOUNDS, type ConnectBounds } from '@weft/common/connect-bound';
import { USER_TIMEOUT_MS } from '../native/tcp-user-timeout.js';

export interface ConnectionSettings extends ConnectBounds {
  /** TCP_USER_TIMEOUT on the mesh's mTLS connections, both ends: how long sent bytes may stay unacknowledged. */
  readonly userTimeoutMs: number;
  /** Sessions to peer proxies (weft.mux, HTTP/2) with streams open: PING after this long without a byte; the end after as long again. */
  readonly peerPingMs: number;
}

/** Between a session's PINGs while nothing arrives (and how long a PING may go unanswered). */
export const PEER_PING_MS = 10_000;

export const DEFAULT_CONNECTIONS: ConnectionSettings = { ...CONNECT_BOUNDS, userTimeoutMs: USER_TIMEOUT_MS, peerPingMs: PEER_PING_MS };

/** The longest any of them may be: Node's timers hold at most 2^31-1 ms, and a day is past any sensible bound. */
export const MAX_CONNECTION_SETTING_MS = 24 * 3_600_000;
