/**
 * The newest instance of each class the proxy makes per connection or per request, kept so that the code V8 optimized
 * for that class survives the proxy's idle collections (docs/proxy.md, "Optimized code kept through idle collections").
 *
 * V8 gives every object a hidden class (a map). A class's instances reach their final map through transitions from
 * the constructor's initial map, and V8 holds those transitions weakly: once no instance is left, the next full
 * collection frees the map. Optimized code that was specialized on the map is thrown away with it ("marking
 * dependent code … for deoptimization, reason: weak objects"), and the next instances get a new map. A sidecar that
 * goes quiet closes its connections and then runs full collections (V8's memory reducer, and weft's own in
 * idle-memory.ts), so every burst after a pause re-optimized the hot path (measured on the bench mesh: ~25
 * functions thrown away per proxy, ~85 compilations in the next 6 s on the proxy's one core, instead of ~15).
 *
 * Keeping one instance keeps its map. Each class stores itself here as its constructor ends: one store, and at
 * most one finished connection or request per class stays reachable after the last one closed (a few KiB; its
 * sockets are closed and its buffers were let go when it ended). What a kept instance references keeps its maps
 * too (a request's parsed header fields, its connection's metadata).
 */
export interface NewestInstances {
  /** http/h1/server-conn.ts: one per accepted HTTP/1 connection. */
  h1ServerConn: object | undefined;
  /** …and one per request it reads: with its parsed head's fields and the connection's metadata. */
  h1Request: object | undefined;
  /** http/h1-client.ts: one per connection to an endpoint, one per request. */
  h1ClientConn: object | undefined;
  h1Exchange: object | undefined;
  /** http/server.ts: one exchange and one request per HTTP/2 stream served. */
  h2ServerExchange: object | undefined;
  h2Request: object | undefined;
  /** http/h2-client.ts: one per HTTP/2 request sent. */
  h2ClientExchange: object | undefined;
  /** transport/mux.ts: one per request between proxies. */
  muxStream: object | undefined;
  /** http/whole-body.ts: one per response that arrived whole. */
  wholeResponse: object | undefined;
  heldBody: object | undefined;
  /** layers/http-metrics.ts: one per response counted. */
  countResponse: object | undefined;
  /**
   * Node's `Immediate` (transport/mux.ts's and turn-writes.ts's end-of-turn writes): Node's own timer code is
   * optimized for its class too, and an idle proxy has no immediate pending.
   */
  immediate: object | undefined;
  /** balance/balancer.ts, through layers/balance.ts: one lease per request picked. */
  lease: object | undefined;
}

export const newest: NewestInstances = {
  h1ServerConn: undefined,
  h1Request: undefined,
  h1ClientConn: undefined,
  h1Exchange: undefined,
  h2ServerExchange: undefined,
  h2Request: undefined,
  h2ClientExchange: undefined,
  muxStream: undefined,
  wholeResponse: undefined,
  heldBody: undefined,
  countResponse: undefined,
  immediate: undefined,
  lease: undefined,
};

/** Lets every kept instance go (tests: the same process without the keeping, to compare). */
export function forgetNewest(): void {
  for (const key of Object.keys(newest) as (keyof NewestInstances)[]) newest[key] = undefined;
}
