// The sign-up screen, opened from an invitation e-mail: who invites you to
// what, as what; your name and a password; then the recovery key shown
// once (forms.js). Nothing typed is lost on an error.
import { t } from "./i18n.js";
import { el, field, explain, passwordField, keep, languageSwitch, onSubmit, showRecoveryKey } from "./forms.js";

export async function showInvitation(root, client, state) {
  const card = el("section", { class: "card" });
  root.replaceChildren(card);
  const brand = el("h1", { class: "brand", text: "Kluis" });
  const render = () => showInvitation(root, client, state);
  let info = state.info;
  if (!info) {
    try {
      info = state.info = await client.lookupInvitation(location.href);
    } catch (e) {
      card.append(brand, el("p", { class: "error", role: "alert", text: explain(e, "invitation_used") }));
      return;
    }
  }
  const organisation = info.organisation_name;
  const header = [
    brand,
    el("h2", { text: t("invitation_title", { organisation }) }),
    el("p", { text: t(info.inviter_name ? "invited_by" : "invited_as",
      { inviter: info.inviter_name, role: t(`role_${info.role}`), email: info.email }) }),
  ];
  if (info.account_exists) {
    card.append(...header, el("p", { class: "error", role: "alert", text: t("account_exists_login") }));
    return;
  }
  const name = field("name", t("your_name"), "text", "name");
  const password = passwordField();
  const message = el("p", { id: "form-message", role: "alert" });
  const submit = el("button", { type: "submit", class: "primary", text: t("create_account") });
  const form = el("form", { novalidate: true }, ...name.nodes, ...password.nodes, submit, message);
  keep({ name, password }, state);
  onSubmit(form, submit, message, "invitation_used", async () => {
    const done = await client.signUp(location.href, name.input.value.trim(), password.input.value);
    state.session = done.takeSession();
    showRecoveryKey(root, done.recoveryKey, info.email,
      t("signup_done_title"), t("signup_done_text", { organisation }));
  });
  // Said once, where it matters: to the client who is about to write.
  const promise = info.role === "client" ? [el("p", { class: "muted", text: t("encryption_promise") })] : [];
  card.append(...header, ...promise, form, languageSwitch(render));
  name.input.focus();
}
