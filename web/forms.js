// What the signed-out screens share: building elements without markup
// strings (no user text ever becomes HTML), a labelled field, the password
// field with its rule and live strength meter, errors as sentences in the
// user's language, the language switch, and the recovery key shown once.
import { KluisClient } from "./pkg/kluis_sdk.js";
import { t, language, setLanguage } from "./i18n.js";

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "text") node.textContent = v;
    else if (v === true) node.setAttribute(k, "");
    else if (v !== false && v !== undefined) node.setAttribute(k, v);
  }
  node.append(...children);
  return node;
}

export function field(id, label, type, autocomplete, extra = []) {
  const input = el("input", { id, name: id, type, autocomplete, required: true });
  return { input, nodes: [el("label", { for: id, text: label }), input, ...extra] };
}

// A sentence in the user's language for what the SDK reported.
// `spent` names the sentence for a link that expired or was used.
export function explain(e, spent = "link_used") {
  switch (e.name) {
    case "invalid_link":
    case "invalid_token":
    case "already_complete":
      return t(spent);
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

// The password field: the rule under it, a meter of the SDK's estimate.
export function passwordField(autocomplete = "new-password") {
  const meter = el("meter", { id: "strength", min: "0", max: "4", value: "0", "aria-label": t("password_strength") });
  const rule = el("p", { class: "hint", id: "password-rule", text: t("password_rule") });
  const f = field("password", t("password"), "password", autocomplete, [rule, meter]);
  f.input.setAttribute("aria-describedby", "password-rule");
  f.input.addEventListener("input", () => {
    meter.value = KluisClient.checkPassword(f.input.value).score;
  });
  return f;
}

// Keeps what is typed in `fields` ({ key: field }) in `state`, so that a
// re-render (the language switch, an error) loses nothing.
export function keep(fields, state) {
  for (const [key, f] of Object.entries(fields)) {
    f.input.value = state[key] ?? "";
    f.input.addEventListener("input", () => { state[key] = f.input.value; });
  }
}

// Submits `form` by `action()`: the button off and "one moment" while it
// runs; on failure the sentence for the error (`spent` for a used link)
// and the button back, with everything typed still in place.
export function onSubmit(form, submit, message, spent, action) {
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    message.className = "";
    message.textContent = t("working");
    submit.disabled = true;
    try {
      await action();
    } catch (e) {
      message.className = "error";
      message.textContent = explain(e, spent);
      submit.disabled = false;
    }
  });
}

// The language switch: an action, not a place (the fragment holds the
// token), so a button; `render` draws the screen again.
export function languageSwitch(render) {
  const other = language() === "nl" ? "en" : "nl";
  const button = el("button", { type: "button", class: "link", lang: other, text: t("switch_language") });
  button.addEventListener("click", () => {
    setLanguage(other);
    render();
    document.querySelector(".switch button")?.focus();
  });
  return el("p", { class: "switch" }, button);
}

export function showRecoveryKey(root, key, email, doneTitle, doneText) {
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
      el("h2", { text: doneTitle }),
      el("p", { class: "ok", role: "status", text: doneText }));
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
