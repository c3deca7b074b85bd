// The privacy notice at first sign-in (and after it changed): the six
// rights and the complaint route, in the account's language, acknowledged
// before going on. The notice is Markdown from the server, rendered here
// into elements (headings, paragraphs, lists, bold) — never as HTML.
import type { KluisSession } from "../pkg/kluis_sdk.js";
import { t } from "./i18n.js";
import { el, card, type Child } from "./dom.js";
import { explain } from "./forms.js";
import type { App, PrivacyNotice } from "./types.js";

// `**bold**` inside a line; everything else is text.
function inline(text: string): Child[] {
  return text.split(/(\*\*[^*]+\*\*)/).filter((s) => s !== "").map((s) =>
    s.startsWith("**") && s.endsWith("**") ? el("strong", { text: s.slice(2, -2) }) : s);
}

export function markdown(text: string): HTMLElement[] {
  const out: HTMLElement[] = [];
  for (const block of text.replace(/\r/g, "").split(/\n\s*\n/)) {
    const lines = block.split("\n").filter((l) => l.trim() !== "");
    if (lines.length === 0) continue;
    const first = lines[0]!;
    const heading = /^(#{1,3})\s+(.*)$/.exec(first);
    if (heading && lines.length === 1) {
      out.push(el(heading[1]!.length === 1 ? "h2" : "h3", {}, ...inline(heading[2]!)));
      continue;
    }
    const marker = /^(\d+\.|[-*])\s+/;
    if (marker.test(first)) {
      const list = el(/^\d/.test(first) ? "ol" : "ul");
      let item: string[] = [];
      const flush = () => {
        if (item.length) list.append(el("li", {}, ...inline(item.join(" "))));
        item = [];
      };
      for (const line of lines) {
        if (marker.test(line)) {
          flush();
          item.push(line.replace(marker, ""));
        } else {
          item.push(line.trim());
        }
      }
      flush();
      out.push(list);
      continue;
    }
    out.push(el("p", {}, ...inline(lines.map((l) => l.trim()).join(" "))));
  }
  return out;
}

export async function showPrivacyNotice(app: App, session: KluisSession, then: () => Promise<void>): Promise<void> {
  const notice = (await session.privacyNotice()) as PrivacyNotice;
  const message = el("p", { id: "form-message", role: "alert" });
  const ok = el("button", { type: "button", class: "primary", text: t("privacy_ok") });
  ok.addEventListener("click", async () => {
    ok.disabled = true;
    message.className = "";
    message.textContent = t("working");
    try {
      await session.acknowledgePrivacyNotice(notice.version);
      await then();
    } catch (e) {
      message.className = "error";
      message.textContent = explain(e);
      ok.disabled = false;
    }
  });
  const body = el("div", { class: "notice-text", lang: notice.language }, ...markdown(notice.text));
  card(app.root, el("p", { class: "muted", text: t("privacy_intro") }), body, ok, message);
  app.root.querySelector("section")?.classList.add("wide");
  ok.focus();
}
