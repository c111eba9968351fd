/**
 * Adapts the standalone P2C peak-EWMA balancer (proxy/src/balance) to the
 * stack's `Balancer` over discovery `Endpoint`s, keyed by `ip:port`.
 */
import { Balancer as P2c, type BalancerOptions } from '../balance/index.js';
import type { Balancer, BalancerLease, Endpoint } from '../svc.js';

export class P2cBalancer implements Balancer {
  private readonly p2c: P2c<Endpoint>;

  constructor(opts: BalancerOptions<Endpoint> = {}) {
    this.p2c = new P2c<Endpoint>(opts);
  }

  update(endpoints: readonly Endpoint[]): void {
    this.p2c.replace(endpoints.map((endpoint) => ({ key: `${endpoint.addr.ip}:${endpoint.addr.port}`, weight: endpoint.weight, endpoint })));
  }

  pick(): BalancerLease | undefined {
    return this.p2c.pick();
  }
}
