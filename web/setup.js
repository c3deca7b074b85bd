// The setup screen, opened from the link the server prints at its first
// start: the organisation and its first manager, then the recovery key
// (forms.js). Nothing typed is lost on an error.
import { t } from "./i18n.js";
import { el, field, passwordField, keep, languageSwitch, onSubmit, showRecoveryKey } from "./forms.js";

export function showSetup(root, client, state) {
  const token = new URLSearchParams(location.hash.slice(1)).get("token");
  const card = el("section", { class: "card" });
  root.replaceChildren(card);
  const header = [el("h1", { class: "brand", text: "Kluis" }), el("h2", { text: t("setup_title") })];
  if (!token) {
    card.append(...header, el("p", { class: "error", role: "alert", text: t("no_token") }));
    return;
  }
  const org = field("organisation", t("organisation_name"), "text", "organization");
  const name = field("name", t("your_name"), "text", "name");
  const email = field("email", t("email"), "email", "email");
  const password = passwordField();
  const message = el("p", { id: "form-message", role: "alert" });
  const submit = el("button", { type: "submit", class: "primary", text: t("create_organisation") });
  const form = el("form", { novalidate: true }, ...org.nodes, ...name.nodes, ...email.nodes, ...password.nodes, submit, message);
  keep({ organisation: org, name, email, password }, state);
  onSubmit(form, submit, message, "link_used", async () => {
    const organisation = org.input.value.trim();
    const done = await client.setupOrganisation(
      location.href, organisation, email.input.value.trim(),
      name.input.value.trim(), password.input.value);
    state.session = done.takeSession();
    showRecoveryKey(root, done.recoveryKey, email.input.value.trim(),
      t("done_title"), t("done_text", { organisation }));
  });
  card.append(...header, el("p", { class: "muted", text: t("setup_intro") }), form,
    languageSwitch(() => showSetup(root, client, state)));
  org.input.focus();
}
