// Files in the dialogue: choosing one (the paper-clip or dropping it on
// the conversation), the limit said before anything is sent, the upload
// with a progress bar (the SDK encrypts it in slices, memory flat), a
// failed upload goes on from where it stopped (kept while the session
// lives); and the document card with its download, decrypted by the SDK
// chunk by chunk into the file the user picked (sink.ts), kept only after
// every check passed.
import type { KluisSession, KluisUpload } from "../pkg/kluis_sdk.js";
import { KluisClient } from "../pkg/kluis_sdk.js";
import { t, language } from "./i18n.js";
import { el, size } from "./dom.js";
import { openSink } from "./sink.js";
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

// An upload that failed, kept per relationship for as long as the session
// lives (never stored): a conversation drawn again — in the other
// language, back from the list — shows it again, ready to go on.
interface Unfinished {
  file: File;
  pending: KluisUpload | undefined;
  error: unknown;
}
const unfinished = new Map<string, Unfinished[]>();

function forget(relationship: string, u: Unfinished): void {
  unfinished.set(relationship, (unfinished.get(relationship) ?? []).filter((x) => x !== u));
}

// Signed out: every kept upload leaves the module's memory, the file keys
// with it.
export function forgetUnfinished(): void {
  for (const list of unfinished.values()) for (const u of list) u.pending?.free();
  unfinished.clear();
}

// The failed uploads of the relationship, each with its row in `area`.
export function showUnfinished(ctx: FileContext, area: HTMLElement): void {
  for (const u of unfinished.get(ctx.relationship) ?? []) failedRow(ctx, area, u);
}

// One upload with its row in `area`: progress, then gone; or the
// sentence for what went wrong and a button to go on. The SDK keeps the
// upload (KluisUpload) between attempts, so going on sends only what the
// server does not have yet; dismissing gives it up.
export async function upload(ctx: FileContext, area: HTMLElement, file: File, kept?: KluisUpload): Promise<void> {
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
  const bar = el("progress", { max: String(Math.max(file.size, 1)), value: String(Math.min(kept?.stored ?? 0, file.size)), "aria-label": t("uploading", { name: file.name }) });
  const label = el("p", { text: t("uploading", { name: file.name }) });
  row.replaceChildren(label, bar);
  let pending = kept;
  try {
    pending ??= (await ctx.session.startUpload(ctx.relationship, file.name,
      file.type || "application/octet-stream", file.size)) as KluisUpload;
    await ctx.session.continueUpload(pending, file, (done: number, total: number | null) => {
      bar.value = done;
      label.textContent = t("uploading_progress", { name: file.name, done: size(done, lang), total: size(total ?? file.size, lang) });
    });
    pending.free();
    row.remove();
    await ctx.uploaded().catch(() => undefined);
  } catch (error) {
    // Going on only where it can succeed; otherwise the file afresh.
    if (pending !== undefined && !pending.canContinue) {
      pending.free();
      pending = undefined;
    }
    const u: Unfinished = { file, pending, error };
    unfinished.set(ctx.relationship, [...(unfinished.get(ctx.relationship) ?? []), u]);
    row.remove();
    failedRow(ctx, area, u);
  }
}

// A failed upload's row: what happened, in the language shown now, and
// "continue uploading" (or "try again" afresh) and "dismiss".
function failedRow(ctx: FileContext, area: HTMLElement, u: Unfinished): void {
  const lang = language();
  const { file, pending } = u;
  const stored = pending ? Math.min(pending.stored, file.size) : 0;
  const row = el("div", { class: "upload error", role: "status" });
  const again = el("button", { type: "button", class: "secondary small", text: t(pending ? "continue_upload" : "try_again") });
  again.addEventListener("click", () => {
    forget(ctx.relationship, u);
    row.remove();
    void upload(ctx, area, file, pending);
  });
  const reason = explain(u.error);
  const sentence = pending && stored > 0
    ? t("upload_interrupted", { name: file.name, reason, done: size(stored, lang), total: size(file.size, lang) })
    : t("upload_failed", { name: file.name, reason });
  row.append(el("p", { text: sentence }), again, dismiss(row, () => {
    forget(ctx.relationship, u);
    pending?.free();
  }));
  area.append(row);
}

function dismiss(row: HTMLElement, giveUp?: () => void): HTMLElement {
  const b = el("button", { type: "button", class: "link", text: t("dismiss") });
  b.addEventListener("click", () => {
    giveUp?.();
    row.remove();
  });
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
    // Where it goes first: the save picker needs the click.
    const sink = await openSink(doc.name, doc.media_type || "application/octet-stream");
    if (!sink) return;
    button.disabled = true;
    bar.hidden = false;
    status.className = "hint";
    status.textContent = t("downloading", { name: doc.name });
    // Plaintext arrives before the last checks: the sink keeps it only
    // when the SDK says every check passed.
    try {
      await session.downloadFile(relationship, item, (chunk: Uint8Array) => sink.write(chunk),
        (done: number) => { bar.value = done; });
      await sink.finish();
      status.textContent = t("downloaded", { name: doc.name });
    } catch (e) {
      await sink.abort();
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
