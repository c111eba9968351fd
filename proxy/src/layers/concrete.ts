/**
 * Outbound: from a logical service to the concrete backend that serves it.
 * Without a traffic split the backend is the logical service itself; the
 * split layer (issue 9) replaces this with a weighted choice.
 */
import type { Concrete, Logical, NewHttp } from '../svc.js';

export function concreteFromLogical(inner: NewHttp<Concrete>): NewHttp<Logical> {
  return (logical) => inner({ logical, authority: logical.authority });
}
