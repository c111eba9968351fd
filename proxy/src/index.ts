// weft's proxy, for programmatic use (demo, tests, the netns integration test).
export { startProxy, type Proxy, type ProxyOptions, type OriginalDstLookup } from './proxy.js';
export { parseProxyEnv, type ProxyConfig, type ListenAddr } from './config.js';
export { StaticIdentity, CertifyingIdentity, type LocalIdentity, type TlsCredentials, type Certifier } from './identity/local-identity.js';
export { StaticDiscovery, endpoint, type Discovery, type EndpointSet } from './discovery/discovery.js';
export { DestinationDiscovery } from './discovery/destination-client.js';
export { StaticProfiles, DestinationProfiles, type Profiles, type ProfileWatch, type Profile } from './discovery/profiles.js';
export * from './svc.js';
export { releaseStartupPages, releaseStartupPagesWhenReady, type ReleasedPages } from './native/startup-pages.js';
export { installAsyncBind } from './async-bind.js';
export { watchIdleMemory, reduceIdleMemory, type IdleMemoryWatch, type IdleReduction } from './idle-memory.js';
export { runProxyWorker } from './workers/worker.js';
