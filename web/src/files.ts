// Files in the dialogue: choosing one (the paper-clip or dropping it on
// the conversation), the limit said before anything is sent, the upload
// with a progress bar (the SDK encrypts it in slices, memory flat), a
// failed upload kept with "try again"; and the document card with its
// download, decrypted by the SDK chunk by chunk and saved only after every
// check passed.
import type { KluisSession } from "../pkg/kluis_sdk.js";
import { KluisClient } from "../pkg/kluis_sdk.js";
import { t, language } from "./i18n.js";
import { el, save, size } from "./dom.js";
import { explain } from "./forms.js";

export interface FileContext {
  session: KluisSession;
  relationship: string;
  // The server's attachment limit (stream bytes), from `me`.
  streamLimit: number | null;
  // After an upload: fetch the dialogue again.
  uploaded(): Promise<void>;
}

export function fileLimit(streamLimit: number | null): number | null {
  return streamLimit ? KluisClient.maxFileSize(streamLimit) : null;
}

// One upload with its row in `area`: progress, then gone; or the
// sentence for what went wrong and a button to try again.
export async function upload(ctx: FileContext, area: HTMLElement, file: File): Promise<void> {
  const lang = language();
  const limit = fileLimit(ctx.streamLimit);
  const row = el("div", { class: "upload", role: "status" });
  area.append(row);
  if (limit !== null && file.size > limit) {
    row.classList.add("error");
    row.append(el("p", { text: t("file_too_large", { name: file.name, size: size(file.size, lang), limit: size(limit, lang) }) }),
      dismiss(row));
    return;
  }
  const bar = el("progress", { max: String(Math.max(file.size, 1)), value: "0", "aria-label": t("uploading", { name: file.name }) });
  const label = el("p", { text: t("uploading", { name: file.name }) });
  row.replaceChildren(label, bar);
  try {
    await ctx.session.sendFile(ctx.relationship, file, file.name, file.type || "application/octet-stream",
      (done: number, total: number | null) => {
        bar.value = done;
        label.textContent = t("uploading_progress", { name: file.name, done: size(done, lang), total: size(total ?? file.size, lang) });
      });
    row.remove();
    await ctx.uploaded();
  } catch (e) {
    row.classList.add("error");
    const again = el("button", { type: "button", class: "secondary small", text: t("try_again") });
    again.addEventListener("click", () => {
      row.remove();
      void upload(ctx, area, file);
    });
    row.replaceChildren(el("p", { text: t("upload_failed", { name: file.name, reason: explain(e) }) }), again, dismiss(row));
  }
}

function dismiss(row: HTMLElement): HTMLElement {
  const b = el("button", { type: "button", class: "link", text: t("dismiss") });
  b.addEventListener("click", () => row.remove());
  return b;
}

// The card of a shared document, with its download.
export function documentCard(session: KluisSession, relationship: string, item: string,
  doc: { name: string; media_type: string; size: number }): HTMLElement {
  const lang = language();
  const status = el("p", { class: "hint", role: "status" });
  const button = el("button", { type: "button", class: "secondary small download", text: t("download_file"), "aria-label": t("download_named", { name: doc.name }) });
  const bar = el("progress", { max: String(Math.max(doc.size, 1)), value: "0", hidden: true, "aria-label": t("downloading", { name: doc.name }) });
  button.addEventListener("click", async () => {
    button.disabled = true;
    bar.hidden = false;
    status.className = "hint";
    status.textContent = t("downloading", { name: doc.name });
    // Plaintext arrives before the last checks: kept here, and saved only
    // when the SDK says every check passed.
    let parts: Uint8Array[] = [];
    try {
      await session.downloadFile(relationship, item, (chunk: Uint8Array) => parts.push(chunk),
        (done: number) => { bar.value = done; });
      save(parts as BlobPart[], doc.name, doc.media_type || "application/octet-stream");
      parts = [];
      status.textContent = t("downloaded", { name: doc.name });
    } catch (e) {
      parts = [];
      status.className = "error";
      status.textContent = explain(e);
    }
    bar.hidden = true;
    button.disabled = false;
  });
  return el("div", { class: "document" },
    el("p", { class: "doc-name" }, el("strong", { text: doc.name })),
    el("p", { class: "hint", text: `${size(doc.size, lang)} · ${doc.media_type || t("unknown_type")}` }),
    button, bar, status);
}
