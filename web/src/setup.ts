// The setup screen, opened from the link the server prints at its first
// start: the organisation and its first manager, then the recovery key
// (forms.ts). Nothing typed is lost on an error.
import { t } from "./i18n.js";
import { el, card } from "./dom.js";
import { field, passwordField, keep, languageSwitch, onSubmit, showRecoveryKey } from "./forms.js";
import { strengthReady } from "./strength.js";
import type { App } from "./types.js";

export function showSetup(app: App, state: Record<string, unknown>): void {
  const token = new URLSearchParams(location.hash.slice(1)).get("token");
  const title = el("h2", { text: t("setup_title") });
  if (!token) {
    card(app.root, title, el("p", { class: "error", role: "alert", text: t("no_token") }));
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
    await strengthReady();
    const done = await app.client.setupOrganisation(
      location.href, org.input.value.trim(), email.input.value.trim(),
      name.input.value.trim(), password.input.value);
    const session = done.takeSession();
    history.replaceState(null, "", "/");
    showRecoveryKey(app.root, done.recoveryKey, email.input.value.trim(), () => {
      if (session) void app.signedIn(session, true);
    });
  });
  card(app.root, title, el("p", { class: "muted", text: t("setup_intro") }), form,
    languageSwitch(() => showSetup(app, state)));
  org.input.focus();
}
