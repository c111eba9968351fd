/**
 * Emits tap events (request init, response init, response end) for requests
 * that a `tap.Observe` subscriber matches. Free when nobody is tapping.
 */
import { performance } from 'node:perf_hooks';
import { create } from '@bufbuild/protobuf';
import { tap, net } from '@weft/api';
import type { HttpLayer, HttpRequest, HttpService } from '../svc.js';
import { type TapHub, type TapEventBase, tapEvent, durationFromMs } from '../tap/tap-hub.js';

export interface TapLayerOptions {
  readonly hub: TapHub;
  /** This proxy's identity, for the server (inbound) or client (outbound) side of events. */
  readonly localIdentity: string;
  readonly localMeta: Record<string, string>;
}

export function tapLayer(opts: TapLayerOptions): HttpLayer {
  return (inner) => {
    const tapped = observe(opts, inner);
    // The common case (nobody tapping) costs one property read and no extra promise.
    return (req) => (opts.hub.active ? tapped(req) : inner(req));
  };
}

function observe(opts: TapLayerOptions, inner: HttpService): HttpService {
  return async (req) => {
    const subs = opts.hub.matching(req);
    if (!subs) return inner(req);
    const base = baseEvent(req, opts);
    const id = create(tap.StreamIdSchema, { base: 0n, stream: opts.hub.streamId() });
    const send = (e: tap.TapEvent): void => subs.forEach((s) => s.push(e));
    send(tapEvent(base, { case: 'requestInit', value: create(tap.RequestInitSchema, { id, method: req.method, scheme: req.scheme, authority: req.authority, path: req.path }) }));
    let rsp;
    try {
      rsp = await inner(req);
    } catch (err) {
      const since = durationFromMs(performance.now() - req.startedAt);
      send(tapEvent(base, { case: 'responseEnd', value: create(tap.ResponseEndSchema, { id, sinceRequestInit: since, error: (err as Error).message }) }));
      throw err;
    }
    const headersAt = performance.now();
    send(tapEvent(base, { case: 'responseInit', value: create(tap.ResponseInitSchema, { id, sinceRequestInit: durationFromMs(headersAt - req.startedAt), httpStatus: rsp.status }) }));
    let bytes = 0n;
    rsp.body.on('data', (c: Buffer) => {
      bytes += BigInt(c.length);
    });
    const end = (error: string): void => {
      const now = performance.now();
      const grpc = rsp.trailers()?.['grpc-status'] ?? rsp.headers['grpc-status'];
      send(
        tapEvent(base, {
          case: 'responseEnd',
          value: create(tap.ResponseEndSchema, {
            id,
            sinceRequestInit: durationFromMs(now - req.startedAt),
            sinceResponseInit: durationFromMs(now - headersAt),
            responseBytes: bytes,
            grpcStatus: grpc === undefined ? 0 : Number(grpc),
            hasGrpcStatus: grpc !== undefined,
            error,
          }),
        }),
      );
    };
    rsp.body.once('end', () => end(''));
    rsp.body.once('error', (err) => end(err.message));
    return rsp;
  };
}

function baseEvent(req: HttpRequest, opts: TapLayerOptions): TapEventBase {
  const inbound = req.conn.direction === 'inbound';
  const client = create(net.TcpAddressSchema, { ip: req.conn.client.ip, port: req.conn.client.port });
  return {
    source: client,
    destination: req.conn.origDst ? create(net.TcpAddressSchema, { ip: req.conn.origDst.ip, port: req.conn.origDst.port }) : undefined,
    direction: inbound ? tap.TapEvent_Direction.INBOUND : tap.TapEvent_Direction.OUTBOUND,
    tls: inbound ? req.conn.tls.identity !== undefined : false,
    clientIdentity: inbound ? (req.conn.tls.identity ?? '') : opts.localIdentity,
    serverIdentity: inbound ? opts.localIdentity : '',
    sourceMeta: inbound ? {} : opts.localMeta,
    destinationMeta: inbound ? opts.localMeta : {},
  };
}
