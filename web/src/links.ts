// The pages of the e-mailed links that need no form: confirming an
// address (/verify), and confirming or refusing a new address a manager
// proposed (/email-change). Each says what happened and what to do next.
import { t } from "./i18n.js";
import { el, card } from "./dom.js";
import { explain } from "./forms.js";
import type { App } from "./types.js";

function toSignIn(app: App, text: string): HTMLElement {
  const b = el("button", { type: "button", class: "primary", text: t("to_sign_in") });
  b.addEventListener("click", () => app.signedOut(text));
  return b;
}

export async function showVerify(app: App): Promise<void> {
  card(app.root, el("h2", { text: t("verify_title") }), el("p", { role: "status", text: t("working") }));
  try {
    await app.client.verifyEmail(location.href);
  } catch (e) {
    card(app.root, el("h2", { text: t("verify_title") }),
      el("p", { class: "error", role: "alert", text: explain(e, "verify_link_used") }), toSignIn(app, ""));
    return;
  }
  history.replaceState(null, "", "/");
  card(app.root, el("h2", { text: t("verify_title") }),
    el("p", { class: "ok", role: "status", text: t("verify_done") }), toSignIn(app, t("verify_done")));
}

export function showEmailChange(app: App): void {
  const message = el("p", { role: "alert" });
  const confirm = el("button", { type: "button", class: "primary", text: t("email_change_confirm") });
  const refuse = el("button", { type: "button", class: "secondary", text: t("email_change_refuse") });
  const act = async (yes: boolean) => {
    confirm.disabled = refuse.disabled = true;
    message.className = "";
    message.textContent = t("working");
    try {
      if (yes) await app.client.confirmEmailChange(location.href);
      else await app.client.refuseEmailChange(location.href);
    } catch (e) {
      message.className = "error";
      message.textContent = explain(e, "email_change_used");
      confirm.disabled = refuse.disabled = false;
      return;
    }
    history.replaceState(null, "", "/");
    const done = yes ? t("email_change_confirmed") : t("email_change_refused");
    card(app.root, el("h2", { text: t("email_change_title") }),
      el("p", { class: "ok", role: "status", text: done }), toSignIn(app, done));
  };
  confirm.addEventListener("click", () => void act(true));
  refuse.addEventListener("click", () => void act(false));
  card(app.root, el("h2", { text: t("email_change_title") }),
    el("p", { text: t("email_change_intro") }), confirm, refuse, message);
  confirm.focus();
}
