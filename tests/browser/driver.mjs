// Drives Debian's Chromium (playwright-core) for the end-to-end browser
// test: opens the page the real Kluis server serves, then runs the steps it
// reads as JSON lines on stdin — {"step": "signUp", "args": [...]} — and
// answers each with one JSON line on stdout: {"ok": value} or {"error": …}.
import { chromium } from "playwright-core";
import { AxeBuilder } from "@axe-core/playwright";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import readline from "node:readline";

const base = process.argv[2];
const profile = mkdtempSync(join(tmpdir(), "kluis-chromium-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: "/usr/bin/chromium",
  headless: true,
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
// The save picker (File System Access API): off by default, so that a
// download goes the fallback way and raises Playwright's download event;
// after the `streamDownloads` step, a picker that hands out files of the
// origin's private file system (OPFS), which the page writes as it
// decrypts, exactly as into a file the user picked.
await context.addInitScript(() => {
  window.showSaveFilePicker = localStorage.getItem("kluis-test-opfs") === "1"
    ? async ({ suggestedName }) => (await navigator.storage.getDirectory()).getFileHandle(suggestedName, { create: true })
    : undefined;
});
const page = context.pages()[0] ?? (await context.newPage());
const problems = [];
page.on("console", (m) => { if (m.type() === "error") problems.push(m.text()); });
page.on("pageerror", (e) => problems.push(String(e)));
// What the page fetched (paths), for the `fetched` step.
const fetched = [];
page.on("request", (r) => fetched.push(new URL(r.url()).pathname));
// A confirmation the page asks (deleting a message) is answered yes.
page.on("dialog", (d) => d.accept());
await page.goto(base + "/index.html");
await page.waitForFunction(() => window.kluisReady || window.kluisError, null, { timeout: 60000 });
const loadError = await page.evaluate(() => window.kluisError ?? null);
const say = (v) => process.stdout.write(JSON.stringify(v) + "\n");
say(loadError ? { error: "load: " + loadError, problems } : { ok: "ready" });

// Steps that act on the page as a person would (the screens' tests).
const ui = {
  async goto(url) {
    await page.goto(url);
    await page.waitForFunction(() => window.kluisReady || window.kluisError, null, { timeout: 60000 });
    return (await page.evaluate(() => window.kluisError ?? null)) ?? "ready";
  },
  // Loads `url` and waits up to `ms` for the client to come up; answers
  // whether it did, what it reported, and the page's errors (a module or
  // a wasm refused under Subresource Integrity shows there).
  async load(url, ms) {
    problems.splice(0);
    await page.goto(url);
    const ready = await page
      .waitForFunction(() => window.kluisReady || window.kluisError, null, { timeout: ms })
      .then(() => true, () => false);
    const state = await page.evaluate(() => ({ ready: window.kluisReady === true, error: window.kluisError ?? null }));
    return { came_up: ready && state.ready, error: state.error, problems: problems.splice(0) };
  },
  fill: async (selector, value) => (await page.fill(selector, value), true),
  // Downloads go through the save picker into OPFS from now on.
  async streamDownloads() {
    await page.evaluate(() => {
      localStorage.setItem("kluis-test-opfs", "1");
      window.showSaveFilePicker = async ({ suggestedName }) =>
        (await navigator.storage.getDirectory()).getFileHandle(suggestedName, { create: true });
    });
    return true;
  },
  // A file the page wrote through the picker: its size and SHA-256, or
  // null when there is none.
  opfsFile: (name) => page.evaluate(async (n) => {
    const dir = await navigator.storage.getDirectory();
    const handle = await dir.getFileHandle(n).catch(() => null);
    if (!handle) return null;
    const file = await handle.getFile();
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", await file.arrayBuffer()));
    return { size: file.size, sha256: Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("") };
  }, name),
  // The page's memory: the JS heap (Chromium's own count) and the SDK's
  // WebAssembly memory (which never shrinks: its size is its peak).
  async memory() {
    const cdp = await context.newCDPSession(page);
    await cdp.send("Performance.enable");
    const { metrics } = await cdp.send("Performance.getMetrics");
    await cdp.detach();
    const m = Object.fromEntries(metrics.map((x) => [x.name, x.value]));
    const wasm = await page.evaluate(() => window.kluis.wasmMemoryBytes());
    return { js_heap_used: m.JSHeapUsedSize, js_heap_total: m.JSHeapTotalSize, wasm };
  },
  // The paths the page fetched since the last time asked.
  fetched: async () => fetched.splice(0),
  // A file chosen in the file picker `selector`, as a person would.
  upload: async (selector, path) => (await page.setInputFiles(selector, path), true),
  // Clicks `selector` and saves the download it starts at `path`;
  // answers the file name the page gave it.
  async download(selector, path) {
    const [download] = await Promise.all([page.waitForEvent("download", { timeout: 60000 }), page.click(selector)]);
    await download.saveAs(path);
    return download.suggestedFilename();
  },
  press: async (selector, key) => (await page.press(selector, key), true),
  click: async (selector) => (await page.click(selector), true),
  text: async (selector) => (await page.textContent(selector)) ?? "",
  // Types as a keyboard does, after what is already there.
  type: async (selector, text) => (await page.locator(selector).pressSequentially(text), true),
  count: (selector) => page.locator(selector).count(),
  visible: (selector) => page.isVisible(selector),
  async waitForTextLong(selector, text, ms) {
    await page.waitForFunction(
      ([s, t]) => (document.querySelector(s)?.textContent ?? "").includes(t), [selector, text],
      { timeout: ms });
    return true;
  },
  async waitFor(selector) {
    await page.waitForSelector(selector, { timeout: 30000 });
    return true;
  },
  async waitForGone(selector) {
    await page.waitForSelector(selector, { state: "hidden", timeout: 30000 });
    return true;
  },
  // The element that has the focus, for keyboard passes: its tag, id and
  // the start of its text.
  focused: () => page.evaluate(() => {
    const a = document.activeElement;
    if (!a) return "";
    const text = (a.textContent ?? "").trim().slice(0, 40);
    return `${a.tagName.toLowerCase()}${a.id ? "#" + a.id : ""}${text ? " " + text : ""}`;
  }),
  // When the page's client was ready, ms after navigation began.
  readyMs: () => page.evaluate(() => window.kluisReadyMs),
  // Types on the keyboard into whatever has the focus.
  typeKeys: async (text) => (await page.keyboard.type(text), true),
  key: async (key) => (await page.keyboard.press(key), true),
  // What the page reported as errors since the last call — script errors,
  // refusals under the CSP — but not the browser's own note on an HTTP
  // error status, which the screens answer in words.
  problems: () => problems.splice(0).filter((p) => !p.startsWith("Failed to load resource")),
  value: (selector) => page.inputValue(selector),
  // A <meter>'s or <progress>'s value.
  meter: (selector) => page.$eval(selector, (e) => e.value),
  enabled: (selector) => page.isEnabled(selector),
  async waitForText(selector, text) {
    await page.waitForFunction(
      ([s, t]) => (document.querySelector(s)?.textContent ?? "").includes(t), [selector, text],
      { timeout: 30000 });
    return true;
  },
  async screenshot(path) {
    await page.screenshot({ path, fullPage: true });
    return path;
  },
  // Scrolls `selector` into view (a screenshot of what lies below).
  scrollTo: async (selector) => (await page.locator(selector).first().scrollIntoViewIfNeeded(), true),
  viewport: async (width, height) => (await page.setViewportSize({ width, height }), true),
  // axe-core's scan of the page as it is (WCAG 2.0–2.2 A and AA rules):
  // the serious and critical violations, each with the elements it found.
  async axe() {
    const result = await new AxeBuilder({ page })
      .withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"])
      .analyze();
    return result.violations
      .filter((v) => v.impact === "serious" || v.impact === "critical")
      .map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(" ")).slice(0, 5) }));
  },
};

const lines = readline.createInterface({ input: process.stdin });
for await (const line of lines) {
  if (!line.trim()) continue;
  const { step, args } = JSON.parse(line);
  if (step === "quit") break;
  if (step === "reload") {
    // A new page load: the module and everything in its memory are gone;
    // only what the page stored (IndexedDB, the cookie) remains.
    await page.reload();
    await page.waitForFunction(() => window.kluisReady || window.kluisError, null, { timeout: 60000 });
    const e = await page.evaluate(() => window.kluisError ?? null);
    say(e ? { error: "load: " + e, problems } : { ok: "ready" });
    continue;
  }
  try {
    const ok = ui[step]
      ? await ui[step](...args)
      : await page.evaluate(([s, a]) => window.kluis[s](...a), [step, args]);
    say({ ok });
  } catch (e) {
    say({ error: String(e.message ?? e), problems });
  }
}
lines.close();
await context.close();
rmSync(profile, { recursive: true, force: true });
process.exit(0);
