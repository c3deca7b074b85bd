// The SRI hash of the SDK's WebAssembly (pkg/kluis_sdk_bg.wasm). null in
// the sources; the bundle (web/bundle.mjs) writes the real hash into
// dist/js/integrity.js, and app.ts fetches the wasm with it.
export const WASM_INTEGRITY: string | null = null;
