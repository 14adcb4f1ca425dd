export { resolveConfig } from './parse.js';
export { MASK, maskUrl, maskSecrets } from './mask.js';
export type { RedkitOptions, RedkitConfig, Logger, HostPort, Topology } from './types.js';
