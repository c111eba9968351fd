// destination: discovery (Get), profiles (GetProfile) and inbound policy (Watch).
export { startDestination, type DestinationOptions, type DestinationController } from './destination.js';
export { WatchHub, type Unwatch } from './watch-hub.js';
export type { DiscoverySource } from './sources/source.js';
export { MemorySource } from './sources/memory.js';
export { FileSource } from './sources/file.js';
export { parseDiscoveryFile } from './sources/file-format.js';
export { KubernetesSource } from './sources/kubernetes.js';
export { DEFAULT_SETTINGS, DEFAULT_INBOUND_POLICIES, type MeshSettings, type DefaultInboundPolicy } from './settings.js';
export { loadDestinationConfig, type DestinationConfig } from './config.js';
export * from './model.js';
