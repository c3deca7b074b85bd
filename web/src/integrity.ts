// The SRI hashes of the two WebAssembly modules: the SDK's
// (pkg/kluis_sdk_bg.wasm) and the strength estimate's
// (pkg/kluis_strength_bg.wasm). null in the sources; the bundle
// (web/bundle.mjs) writes the real hashes into dist/js/integrity.js, and
// the page fetches each module with its hash.
export const WASM_INTEGRITY: string | null = null;
export const STRENGTH_INTEGRITY: string | null = null;
