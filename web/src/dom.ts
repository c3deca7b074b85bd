// Building elements without markup strings: no text a user or the server
// gave ever becomes HTML.

export type Attrs = Record<string, string | boolean | undefined>;
export type Child = Node | string;

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "text") node.textContent = String(v);
    else if (v === true) node.setAttribute(k, "");
    else if (v !== false && v !== undefined) node.setAttribute(k, v);
  }
  node.append(...children);
  return node;
}

// The signed-out card: the Kluis name, then the step.
export function card(root: HTMLElement, ...children: Child[]): HTMLElement {
  const section = el("section", { class: "card" }, el("h1", { class: "brand", text: "Kluis" }), ...children);
  root.replaceChildren(el("main", { class: "centred" }, section));
  return section;
}

// A date and time in the user's language.
export function when(ms: number, lang: string): string {
  return new Intl.DateTimeFormat(lang === "nl" ? "nl-NL" : "en-GB", {
    dateStyle: "medium",
    timeStyle: "short",
  }).format(new Date(ms));
}

// A size in bytes as people read it.
export function size(bytes: number, lang: string): string {
  const units = ["B", "kB", "MB", "GB"];
  let n = bytes;
  let u = 0;
  while (n >= 1000 && u < units.length - 1) {
    n /= 1000;
    u++;
  }
  const fmt = new Intl.NumberFormat(lang === "nl" ? "nl-NL" : "en-GB", { maximumFractionDigits: u === 0 ? 0 : 1 });
  return `${fmt.format(n)} ${units[u]}`;
}

// Runs `step` every `ms` while the page is visible, one run at a time,
// until the returned function is called.
export function every(ms: number, step: () => Promise<void>): () => void {
  let stopped = false;
  let timer: number | undefined;
  const tick = async () => {
    if (stopped) return;
    if (document.visibilityState === "visible") await step().catch(() => undefined);
    if (!stopped) timer = window.setTimeout(tick, ms);
  };
  timer = window.setTimeout(tick, ms);
  return () => {
    stopped = true;
    if (timer !== undefined) window.clearTimeout(timer);
  };
}

const SVG_NS = "http://www.w3.org/2000/svg";

// A paper-clip, drawn as one stroked path (no icon font, no image).
export function clipIcon(): SVGSVGElement {
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("class", "icon");
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS(SVG_NS, "path");
  path.setAttribute("d", "M9 7v9a3 3 0 0 0 6 0V6a4.5 4.5 0 0 0-9 0v10.5a6 6 0 0 0 12 0V8");
  svg.append(path);
  return svg;
}

// Hands `data` to the browser as a download named `name`.
export function save(data: BlobPart[], name: string, type: string): void {
  const url = URL.createObjectURL(new Blob(data, { type }));
  const a = el("a", { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  // Long enough for the browser to have taken it.
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}
