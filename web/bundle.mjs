// Assembles the web client's bundle in web/dist from what scripts/build-web
// built (the SDK in pkg/, the compiled TypeScript in js/): the files the
// server serves and nothing else, with Subresource Integrity on every
// script and on the WebAssembly fetch, and the bundle's manifest.
//
// - index.html gets a <link rel="modulepreload" integrity> for every ES
//   module and `integrity` on the entry script, so that the browser
//   refuses a module whose bytes differ (no inline script: the CSP stays
//   `script-src 'self'`);
// - js/integrity.js carries the SRI hashes of the two wasm modules, which
//   app.js and strength.js hand to their fetches (/pkg/kluis_sdk_bg.wasm at
//   start, /pkg/kluis_strength_bg.wasm where a password is chosen);
// - every script and the wasm get a Brotli (.br) and a gzip (.gz) copy,
//   which the server sends to a browser that accepts them: only files
//   under SRI, which checks the decoded bytes, so a copy cannot smuggle in
//   other code (the page itself is sent as it is, the bytes verify-web
//   compares);
// - bundle-manifest.json lists the SHA-256 of every file (served also at
//   /.well-known/kluis-bundle.json); `kluis verify-web` compares what a
//   server serves with a manifest built from source.
//
// Deterministic: sorted file lists, no timestamps, no absolute paths.
import { createHash } from "node:crypto";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const here = fileURLToPath(new URL(".", import.meta.url));
const dist = `${here}dist/`;
const sri = (bytes) => `sha384-${createHash("sha384").update(bytes).digest("base64")}`;
const sha256 = (bytes) => createHash("sha256").update(bytes).digest("hex");

rmSync(dist, { recursive: true, force: true });
mkdirSync(`${dist}js`, { recursive: true });
mkdirSync(`${dist}pkg`, { recursive: true });
const wasmModules = ["kluis_sdk", "kluis_strength"];
for (const f of ["style.css", "favicon.svg", ...wasmModules.flatMap((m) => [`pkg/${m}.js`, `pkg/${m}_bg.wasm`])]) {
  copyFileSync(`${here}${f}`, `${dist}${f}`);
}
const wasmHash = (m) => JSON.stringify(sri(readFileSync(`${here}pkg/${m}_bg.wasm`)));
const modules = [];
for (const f of readdirSync(`${here}js`).filter((f) => f.endsWith(".js")).sort()) {
  const text = f === "integrity.js"
    ? "// Written by web/bundle.mjs: the SRI hashes of the wasm modules.\n"
      + `export const WASM_INTEGRITY = ${wasmHash("kluis_sdk")};\n`
      + `export const STRENGTH_INTEGRITY = ${wasmHash("kluis_strength")};\n`
    : readFileSync(`${here}js/${f}`, "utf8");
  writeFileSync(`${dist}js/${f}`, text);
  modules.push(`js/${f}`);
}
// The modules' glue is small and preloaded; the strength module's wasm is
// fetched only when a password is chosen.
modules.push(...wasmModules.map((m) => `pkg/${m}.js`));

const entry = '<script type="module" src="/js/app.js"></script>';
const page = readFileSync(`${here}index.html`, "utf8");
if (!page.includes(entry)) throw new Error(`index.html lacks ${entry}`);
const hashOf = (path) => sri(readFileSync(`${dist}${path}`));
const preloads = modules
  .filter((m) => m !== "js/app.js")
  .map((m) => `<link rel="modulepreload" href="/${m}" integrity="${hashOf(m)}">`)
  .join("\n  ");
writeFileSync(`${dist}index.html`, page.replace(entry,
  `${preloads}\n  <script type="module" src="/js/app.js" integrity="${hashOf("js/app.js")}"></script>`));

// Every file of the bundle, by path, with its SHA-256.
const files = {};
const walk = (dir) => {
  for (const e of readdirSync(`${dist}${dir}`, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const path = `${dir}${e.name}`;
    if (e.isDirectory()) walk(`${path}/`);
    else files[path] = sha256(readFileSync(`${dist}${path}`));
  }
};
walk("");

// The compressed copies (not in the manifest: they are the same files).
for (const path of Object.keys(files).filter((p) => /\.(js|wasm)$/.test(p))) {
  const bytes = readFileSync(`${dist}${path}`);
  writeFileSync(`${dist}${path}.br`, brotliCompressSync(bytes, {
    params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length },
  }));
  writeFileSync(`${dist}${path}.gz`, gzipSync(bytes, { level: 9 }));
}
writeFileSync(`${dist}bundle-manifest.json`, `${JSON.stringify({ format: "kluis-web-bundle/1", files }, null, 2)}\n`);
console.log(`web/dist: ${Object.keys(files).length} files, manifest bundle-manifest.json`);
