/**
 * Adapts the standalone P2C peak-EWMA `Balancer` (proxy/src/balance) to the
 * stack's `EndpointBalancer` over discovery `Endpoint`s, keyed by `ip:port`.
 */
import { Balancer, type BalancerOptions } from '../balance/index.js';
import type { Endpoint, EndpointBalancer, EndpointLease } from '../svc.js';

export class P2cEndpointBalancer implements EndpointBalancer {
  private readonly p2c: Balancer<Endpoint>;

  constructor(opts: BalancerOptions<Endpoint> = {}) {
    this.p2c = new Balancer<Endpoint>(opts);
  }

  update(endpoints: readonly Endpoint[]): void {
    this.p2c.replace(endpoints.map((endpoint) => ({ key: `${endpoint.addr.ip}:${endpoint.addr.port}`, weight: endpoint.weight, endpoint })));
  }

  pick(avoid?: ReadonlySet<string>): EndpointLease | undefined {
    return this.p2c.pick(avoid);
  }
}
