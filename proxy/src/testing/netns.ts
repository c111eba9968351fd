/**
 * The network-namespace pods the proxy's tests run in: the sandbox module
 * (common/sandbox/netns, shared with the local demo) plus the tests' polling.
 */
export * from '@weft/common/sandbox/netns';
export { waitFor } from './commands.js';
