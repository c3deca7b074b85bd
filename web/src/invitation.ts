// The sign-up screen, opened from an invitation e-mail: who invites you to
// what, as what; your name and a password; then the recovery key shown
// once (forms.ts). Nothing typed is lost on an error.
import { t } from "./i18n.js";
import { el, card } from "./dom.js";
import { field, explain, passwordField, keep, languageSwitch, onSubmit, showRecoveryKey } from "./forms.js";
import { strengthReady } from "./strength.js";
import type { App, InvitationInfo } from "./types.js";

interface State {
  info?: InvitationInfo;
  [typed: string]: unknown;
}

export async function showInvitation(app: App, state: State): Promise<void> {
  const render = () => void showInvitation(app, state);
  let info = state.info;
  if (!info) {
    card(app.root, el("p", { role: "status", text: t("loading") }));
    try {
      info = state.info = (await app.client.lookupInvitation(location.href)) as InvitationInfo;
    } catch (e) {
      card(app.root, el("p", { class: "error", role: "alert", text: explain(e, "invitation_used") }));
      return;
    }
  }
  const organisation = info.organisation_name;
  const header = [
    el("h2", { text: t("invitation_title", { organisation }) }),
    el("p", { text: t(info.inviter_name ? "invited_by" : "invited_as",
      { inviter: info.inviter_name ?? "", role: t(`role_${info.role}`), email: info.email }) }),
  ];
  if (info.account_exists) {
    card(app.root, ...header, el("p", { class: "error", role: "alert", text: t("account_exists_login") }));
    return;
  }
  const name = field("name", t("your_name"), "text", "name");
  const password = passwordField();
  const message = el("p", { id: "form-message", role: "alert" });
  const submit = el("button", { type: "submit", class: "primary", text: t("create_account") });
  const form = el("form", { novalidate: true }, ...name.nodes, ...password.nodes, submit, message);
  keep({ name, password }, state);
  const email = info.email;
  onSubmit(form, submit, message, "invitation_used", async () => {
    await strengthReady();
    const done = await app.client.signUp(location.href, name.input.value.trim(), password.input.value);
    const session = done.takeSession();
    history.replaceState(null, "", "/");
    showRecoveryKey(app.root, done.recoveryKey, email, () => {
      if (session) void app.signedIn(session, true);
    });
  });
  // Said once, where it matters: to the client who is about to write.
  const promise = info.role === "client" ? [el("p", { class: "muted", text: t("encryption_promise") })] : [];
  card(app.root, ...header, ...promise, form, languageSwitch(render));
  name.input.focus();
}
