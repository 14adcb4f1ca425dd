export { ComfyUIAdapter } from './adapter.js';
export type { ComfyUIAdapterOptions, ComfyUIInput } from './adapter.js';
export { startComfyUIStub } from './stub.js';
export type { ComfyUIStub, ComfyUIStubOptions } from './stub.js';
