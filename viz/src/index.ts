// viz: metrics-api, tap aggregation and the web dashboard (docs/viz.md).
export { startViz, tokenOrLoopback, VIZ_VERSION, type Viz, type VizOptions, type Listen } from './viz.js';
export { FileTargetSource, StaticTargetSource, parseTargets, type ProxyTarget, type TargetSource } from './targets.js';
export { renderScrapeConfig } from './metrics/scrape-config.js';
export type { StatRow, StatResult } from './metrics/stat.js';
export type { Edge } from './metrics/edges.js';
export type { RouteRow } from './metrics/routes.js';
export type { TapEventJson } from './tap/event.js';
export type { TapLine, TapProxyError } from './tap/aggregator.js';
export type { PresentedCertificate } from './proxy-admin.js';
export { tapScope, proxiesOf, type TapScope } from './tap/scope.js';
export { LoopbackAuthorizer, TokenAuthorizer, KubernetesAuthorizer, AnyOfAuthorizer, type TapAuthorizer } from './tap/authorizer.js';
export { parseResource, formatResource, RESOURCE_KINDS, type ResourceRef, type ResourceKind } from './resource.js';
