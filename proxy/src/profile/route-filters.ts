/**
 * A route's filters (Gateway API HTTPRoute filters, translated by
 * destination) compiled once per profile into three functions the outbound
 * route layer calls: a redirect answered by the proxy itself, a request
 * rewrite (header modifier, URL rewrite — in the order the route lists
 * them) and a response header modifier. Names are lower-case; pseudo-headers,
 * `host` and weft's own `weft-*` headers are never touched (destination
 * refuses such filters; this is defence).
 */
import { Readable } from 'node:stream';
import type { destination } from '@weft/api';
import type { Headers, HttpRequest, HttpResponse } from '../svc.js';

export interface RouteFilters {
  /** Set when the route answers every request with a redirect instead of forwarding it. */
  readonly redirect?: (req: HttpRequest) => HttpResponse;
  /** Header modifiers and URL rewrites of the request, in order. */
  readonly request?: (req: HttpRequest) => HttpRequest;
  /** Header modifiers of the response. */
  readonly response?: (headers: Headers) => Headers;
}

const PROTECTED = /^(:|host$|weft-)/;

type HeaderEdit = (h: Headers) => void;

function headerEdit(m: destination.HeaderModifier): HeaderEdit {
  const set = m.set.map((v) => [v.name.toLowerCase(), v.value] as const).filter(([n]) => !PROTECTED.test(n));
  const add = m.add.map((v) => [v.name.toLowerCase(), v.value] as const).filter(([n]) => !PROTECTED.test(n));
  const remove = m.remove.map((n) => n.toLowerCase()).filter((n) => !PROTECTED.test(n));
  return (h) => {
    for (const [n, v] of set) h[n] = v;
    for (const [n, v] of add) {
      const old = h[n];
      h[n] = old === undefined ? v : Array.isArray(old) ? [...old, v] : `${old}, ${v}`;
    }
    for (const n of remove) delete h[n];
  };
}

const splitQuery = (p: string): [string, string] => {
  const q = p.indexOf('?');
  return q < 0 ? [p, ''] : [p.slice(0, q), p.slice(q)];
};

/**
 * The new path (query kept) for a path modifier. `prefix` replaces the route
 * match's prefix: `/api` → `/v2` turns `/api/books` into `/v2/books`; → `/`
 * turns it into `/books`.
 */
export function modifyPath(path: string, m: destination.PathModifier | undefined, matchedPrefix: string | undefined): string {
  const [p, query] = splitQuery(path);
  if (m?.kind.case === 'full') return m.kind.value + query;
  if (m?.kind.case === 'prefix' && matchedPrefix !== undefined && p.startsWith(matchedPrefix)) {
    const rest = p.slice(matchedPrefix.length);
    const repl = m.kind.value === '' ? '/' : m.kind.value;
    let out: string;
    if (rest === '') out = repl;
    else if (repl.endsWith('/') && rest.startsWith('/')) out = repl + rest.slice(1);
    else if (!repl.endsWith('/') && !rest.startsWith('/')) out = `${repl}/${rest}`;
    else out = repl + rest;
    return out + query;
  }
  return path;
}

const WELL_KNOWN: Record<string, number> = { http: 80, https: 443 };

function splitAuthority(a: string): [string, number | undefined] {
  const m = /^(\[[^\]]*\]|[^:]*)(?::(\d+))?$/.exec(a);
  return m ? [m[1]!, m[2] === undefined ? undefined : Number(m[2])] : [a, undefined];
}

function redirectOf(r: destination.RequestRedirect, matchedPrefix: string | undefined): (req: HttpRequest) => HttpResponse {
  const status = r.statusCode === 301 ? 301 : 302;
  return (req) => {
    const [reqHost, reqPort] = splitAuthority(req.authority);
    const scheme = r.scheme || req.scheme || 'http';
    const host = r.hostname || reqHost;
    // Gateway API: an explicit port; else the scheme's well-known port when the scheme changes; else the request's port.
    const port = r.port || (r.scheme ? undefined : reqPort);
    const portPart = port === undefined || port === WELL_KNOWN[scheme] ? '' : `:${port}`;
    const location = `${scheme}://${host}${portPart}${modifyPath(req.path, r.path, matchedPrefix)}`;
    // The body is not wanted; let the client finish sending it.
    req.body.resume();
    return {
      status,
      headers: { location, 'content-length': '0' },
      body: Readable.from([]),
      trailers: () => undefined,
      resetCode: () => undefined,
    };
  };
}

/** Compiles a route's filters; undefined when it has none. `matchedPrefix`: the route match's path prefix, if any. */
export function compileFilters(filters: readonly destination.RouteFilter[], matchedPrefix: string | undefined): RouteFilters | undefined {
  if (filters.length === 0) return undefined;
  const reqSteps: ((req: HttpRequest, headers: Headers) => HttpRequest)[] = [];
  const rspEdits: HeaderEdit[] = [];
  let redirect: RouteFilters['redirect'];
  for (const f of filters) {
    const k = f.kind;
    if (k.case === 'requestHeaderModifier') {
      const edit = headerEdit(k.value);
      reqSteps.push((req, h) => (edit(h), req));
    } else if (k.case === 'responseHeaderModifier') {
      rspEdits.push(headerEdit(k.value));
    } else if (k.case === 'requestRedirect') {
      redirect = redirectOf(k.value, matchedPrefix);
    } else if (k.case === 'urlRewrite') {
      const rw = k.value;
      reqSteps.push((req) => ({
        ...req,
        path: modifyPath(req.path, rw.path, matchedPrefix),
        authority: rw.hostname === '' ? req.authority : rw.hostname,
      }));
    }
  }
  return {
    redirect,
    request:
      reqSteps.length === 0
        ? undefined
        : (req) => {
            const headers = { ...req.headers };
            let out: HttpRequest = { ...req, headers };
            for (const step of reqSteps) out = step(out, headers);
            return out;
          },
    response:
      rspEdits.length === 0
        ? undefined
        : (h) => {
            const out = { ...h };
            for (const e of rspEdits) e(out);
            return out;
          },
  };
}
