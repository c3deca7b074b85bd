// Trust, visible but not noisy: a shield per person (verified, not yet
// verified, key changed) and the safety-number dialog that marks a person
// verified — or accepts their changed key — only after the user compared
// the number with them.
import type { KluisSession } from "../pkg/kluis_sdk.js";
import { t } from "./i18n.js";
import { el } from "./dom.js";
import { explain } from "./forms.js";
import { qrSvg } from "./qr.js";
import type { SafetyNumber } from "./types.js";

export type TrustState = "verified" | "unverified" | "changed";

export function trustOf(n: SafetyNumber): TrustState {
  return n.keyChanged ? "changed" : n.verified ? "verified" : "unverified";
}

export function shield(state: TrustState): HTMLElement {
  const label = { verified: t("trust_verified"), unverified: t("trust_unverified"), changed: t("trust_changed") }[state];
  return el("span", { class: `shield ${state}`, title: label, role: "img", "aria-label": label });
}

// The 60 digits in twelve groups of five, as on the other device.
function groups(number: string): HTMLElement {
  const digits = number.replace(/\D/g, "");
  const list = el("p", { class: "safety-digits", "aria-label": t("safety_number") });
  for (let i = 0; i < digits.length; i += 5) list.append(el("span", { text: digits.slice(i, i + 5) }));
  return list;
}

// Opens the dialog for `peer`; resolves to true when the user confirmed
// the number matched (and the SDK recorded it), false when closed.
export function compareDialog(session: KluisSession, peer: string, name: string, n: SafetyNumber): Promise<boolean> {
  return new Promise((resolve) => {
    const message = el("p", { role: "alert" });
    const match = el("button", { type: "button", class: "primary", text: n.keyChanged ? t("accept_new_key") : t("numbers_match") });
    const close = el("button", { type: "button", class: "secondary", text: t("close") });
    const dialog = el("dialog", { class: "card", "aria-labelledby": "compare-title" },
      el("h2", { id: "compare-title", text: t("compare_title", { name }) }),
      ...(n.keyChanged ? [el("p", { class: "warning", text: t("key_changed_explain", { name }) })] : []),
      el("p", { text: t("compare_intro", { name }) }),
      groups(n.digits),
      el("details", { class: "qr-box" }, el("summary", { text: t("show_qr") }),
        el("p", { class: "hint", text: t("qr_intro", { name }) }), qrSvg(n.qrPayloadHex.toUpperCase(), t("safety_qr"))),
      match, close, message);
    let confirmed = false;
    match.addEventListener("click", async () => {
      match.disabled = true;
      message.className = "";
      message.textContent = t("working");
      try {
        if (n.keyChanged) await session.acceptKeyChange(peer, n.digits);
        else await session.verifySafetyNumber(peer, n.digits);
        confirmed = true;
        dialog.close();
      } catch (e) {
        message.className = "error";
        message.textContent = explain(e);
        match.disabled = false;
      }
    });
    close.addEventListener("click", () => dialog.close());
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve(confirmed);
    });
    document.body.append(dialog);
    dialog.showModal();
    close.focus();
  });
}
