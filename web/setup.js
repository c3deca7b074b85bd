// The setup screen, opened from the link the server prints at its first
// start: the organisation and its first manager, then the recovery key,
// shown once, saved by download or print and confirmed by typing back its
// last four characters. Nothing typed is lost on an error.
import { KluisClient } from "./pkg/kluis_sdk.js";
import { t, language, setLanguage } from "./i18n.js";

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "text") node.textContent = v;
    else if (v === true) node.setAttribute(k, "");
    else if (v !== false && v !== undefined) node.setAttribute(k, v);
  }
  node.append(...children);
  return node;
}

function field(id, label, type, autocomplete, extra = []) {
  const input = el("input", { id, name: id, type, autocomplete, required: true });
  return { input, nodes: [el("label", { for: id, text: label }), input, ...extra] };
}

// A sentence in the user's language for what the SDK reported.
export function explain(e) {
  switch (e.name) {
    case "invalid_link":
    case "invalid_token":
    case "already_complete":
      return t("link_used");
    case "email_taken":
    case "account_exists":
      return t("email_taken");
    case "weak_password":
      return t("weak_password", { problems: e.message });
    case "unreachable":
      return t("unreachable");
    case "rate_limited":
      return t("too_many");
    default:
      return t("failed", { message: e.message });
  }
}

export function showSetup(root, client, state) {
  const token = new URLSearchParams(location.hash.slice(1)).get("token");
  const card = el("section", { class: "card" });
  root.replaceChildren(card);
  // An action, not a place: a button (the fragment holds the token).
  const other = language() === "nl" ? "en" : "nl";
  const switcher = el("button", { type: "button", class: "link", lang: other, text: t("switch_language") });
  switcher.addEventListener("click", () => {
    setLanguage(other);
    showSetup(root, client, state);
    document.querySelector(".switch button")?.focus();
  });
  const header = [el("h1", { class: "brand", text: "Kluis" }), el("h2", { text: t("setup_title") })];
  if (!token) {
    card.append(...header, el("p", { class: "error", role: "alert", text: t("no_token") }));
    return;
  }
  const org = field("organisation", t("organisation_name"), "text", "organization");
  const name = field("name", t("your_name"), "text", "name");
  const email = field("email", t("email"), "email", "email");
  const meter = el("meter", { id: "strength", min: "0", max: "4", value: "0", "aria-label": t("password_strength") });
  const rule = el("p", { class: "hint", id: "password-rule", text: t("password_rule") });
  const password = field("password", t("password"), "password", "new-password", [rule, meter]);
  password.input.setAttribute("aria-describedby", "password-rule");
  const message = el("p", { id: "setup-message", role: "alert" });
  const submit = el("button", { type: "submit", class: "primary", text: t("create_organisation") });
  const form = el("form", { novalidate: true }, ...org.nodes, ...name.nodes, ...email.nodes, ...password.nodes, submit, message);
  // Keep what was typed when the language switches.
  for (const [f, key] of [[org, "organisation"], [name, "name"], [email, "email"], [password, "password"]]) {
    f.input.value = state[key] ?? "";
    f.input.addEventListener("input", () => { state[key] = f.input.value; });
  }
  password.input.addEventListener("input", () => {
    meter.value = KluisClient.checkPassword(password.input.value).score;
  });
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    message.className = "";
    message.textContent = t("working");
    submit.disabled = true;
    try {
      const done = await client.setupOrganisation(
        location.href, org.input.value.trim(), email.input.value.trim(),
        name.input.value.trim(), password.input.value);
      state.session = done.takeSession();
      showRecoveryKey(root, done.recoveryKey, email.input.value.trim(), org.input.value.trim());
    } catch (e) {
      message.className = "error";
      message.textContent = explain(e);
      submit.disabled = false;
    }
  });
  card.append(...header, el("p", { class: "muted", text: t("setup_intro") }), form,
    el("p", { class: "switch" }, switcher));
  org.input.focus();
}

function showRecoveryKey(root, key, email, organisation) {
  const card = el("section", { class: "card" });
  root.replaceChildren(card);
  const download = el("button", { type: "button", class: "secondary", text: t("download") });
  download.addEventListener("click", () => {
    const blob = new Blob([t("recovery_file", { email, key })], { type: "text/plain" });
    const a = el("a", { href: URL.createObjectURL(blob), download: "kluis-herstelsleutel.txt" });
    a.click();
    URL.revokeObjectURL(a.href);
  });
  const print = el("button", { type: "button", class: "secondary", text: t("print") });
  print.addEventListener("click", () => window.print());
  const typed = el("input", { id: "key-tail", autocomplete: "off", spellcheck: "false", maxlength: "4" });
  const saved = el("button", { type: "button", class: "primary", text: t("saved"), disabled: true });
  const tail = key.replace(/[^0-9A-Za-z]/g, "").slice(-4).toUpperCase();
  typed.addEventListener("input", () => {
    saved.disabled = typed.value.trim().toUpperCase() !== tail;
  });
  saved.addEventListener("click", () => {
    card.replaceChildren(
      el("h1", { class: "brand", text: "Kluis" }),
      el("h2", { text: t("done_title") }),
      el("p", { class: "ok", role: "status", text: t("done_text", { organisation }) }));
  });
  card.append(
    el("h1", { class: "brand", text: "Kluis" }),
    el("h2", { text: t("recovery_title") }),
    el("p", { text: t("recovery_explain") }),
    el("p", { class: "key", id: "recovery-key", text: key }),
    el("p", {}, download, print),
    el("label", { for: "key-tail", text: t("confirm_saved") }), typed, saved);
  download.focus();
}
