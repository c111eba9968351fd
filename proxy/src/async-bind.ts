/**
 * `AsyncResource.prototype.bind` without the deprecated `asyncResource` property (DEP0172) on the function it
 * returns (docs/proxy.md, "Node's HTTP/2 client and AsyncResource.bind").
 *
 * Node 20's HTTP/2 client binds every request's connect callback to an `AsyncResource` of its own
 * (`ClientHttp2Session.request`), and Node 20's `bind` gives each bound function a getter and a setter for that
 * deprecated property, each made by `util.deprecate`, which re-parents a new function's prototype: ~5 % of the CPU
 * of a gRPC call through the proxy. The replacement does what Node's does otherwise — the function runs in the
 * resource's async scope (AsyncLocalStorage sees the context of the bind), with `thisArg` or the caller's `this`,
 * and keeps `fn.length` — and leaves the deprecated property out, as Node does once it is removed. The proxy's main
 * installs it at start; nothing in the proxy or its dependencies reads the property.
 */
import { AsyncResource } from 'node:async_hooks';

const installed = Symbol('weft.asyncBind');

type Bindable = (...args: never[]) => unknown;
/** Node's signature (its type declarations leave `thisArg` out). */
type Bind = (this: AsyncResource, fn: Bindable, thisArg?: unknown) => Bindable;

/** Replaces `AsyncResource.prototype.bind` in this process (idempotent). */
export function installAsyncBind(): void {
  const proto = AsyncResource.prototype as unknown as { bind: Bind & { [installed]?: true } };
  if (proto.bind[installed]) return;
  const nodeBind = proto.bind;
  const bind: Bind = function bind(this: AsyncResource, fn: Bindable, thisArg?: unknown): Bindable {
    // Node's own validation and error (ERR_INVALID_ARG_TYPE) for anything that is not a function.
    if (typeof fn !== 'function') return nodeBind.call(this, fn, thisArg);
    let bound: Bindable;
    if (thisArg === undefined) bound = withCallersThis(this, fn as (...a: unknown[]) => unknown);
    else bound = this.runInAsyncScope.bind(this, fn as (...a: unknown[]) => unknown, thisArg) as Bindable;
    Object.defineProperty(bound, 'length', { configurable: true, enumerable: false, value: fn.length, writable: false });
    return bound;
  };
  Object.defineProperty(bind, installed, { value: true });
  proto.bind = bind;
}

/** `fn` in `resource`'s async scope with the caller's `this`: one closure per bind (Node's HTTP/2 client binds per request). */
function withCallersThis(resource: AsyncResource, fn: (...a: unknown[]) => unknown): Bindable {
  return function (this: unknown, ...args: unknown[]): unknown {
    return resource.runInAsyncScope(fn, this, ...args);
  };
}
