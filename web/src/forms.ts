// What the screens share: a labelled field, the password field with its
// rule and live strength meter, errors as sentences in the user's
// language, the language switch, and the recovery key shown once.
import { KluisClient } from "../pkg/kluis_sdk.js";
import { t, language, setLanguage, type Key } from "./i18n.js";
import { el, card, save, type Child } from "./dom.js";
import { strengthReady } from "./strength.js";

export interface Field {
  input: HTMLInputElement;
  nodes: Child[];
}

export function field(id: string, label: string, type: string, autocomplete: string, extra: Child[] = []): Field {
  const input = el("input", { id, name: id, type, autocomplete, required: true });
  return { input, nodes: [el("label", { for: id, text: label }), input, ...extra] };
}

// What the SDK's rejections carry: `name` is what happened (the server's
// code for a refusal), `message` the SDK's English sentence.
export function errorName(e: unknown): string {
  return e instanceof Error ? e.name : "error";
}

// The sentence for what happened, in the user's language. `spent` names
// the sentence for a link that expired or was used.
export function explain(e: unknown, spent: Key = "link_used"): string {
  const message = e instanceof Error ? e.message : String(e);
  switch (errorName(e)) {
    case "invalid_link":
    case "invalid_token":
    case "already_complete":
      return t(spent);
    case "email_taken":
    case "account_exists":
      return t("email_taken");
    case "weak_password":
      return t("weak_password");
    case "strength_unavailable":
      return t("strength_unavailable");
    case "wrong_credentials":
      return t("wrong_credentials");
    case "second_factor_failed":
    case "invalid_code":
      return t("code_wrong");
    case "reauthentication_required":
      return t("password_again");
    case "invalid_recovery_key":
      return t("recovery_key_malformed");
    case "session_expired":
    case "unauthorized":
      return t("session_expired");
    case "unreachable":
      return t("unreachable");
    case "rate_limited":
      return t("too_many");
    case "key_changed":
      return t("key_changed_blocked");
    case "tampered":
      return t("tampered");
    case "local_store_missing":
    case "local_store_unreadable":
      return t("local_store_missing");
    default:
      return t("failed", { message });
  }
}

// The password field: the rule under it and a meter of the SDK's
// estimate, which starts loading with the field (the meter stays empty
// until it is there; the screens await strengthReady() before they hand a
// password to the SDK).
export function passwordField(autocomplete = "new-password", id = "password", label = t("password")): Field {
  const meter = el("meter", { id: `${id}-strength`, min: "0", max: "4", value: "0", "aria-label": t("password_strength") });
  const rule = el("p", { class: "hint", id: `${id}-rule`, text: t("password_rule") });
  const f = field(id, label, "password", autocomplete, [rule, meter]);
  f.input.setAttribute("aria-describedby", `${id}-rule`);
  const measure = () => {
    meter.value = KluisClient.checkPassword(f.input.value).score ?? 0;
  };
  f.input.addEventListener("input", measure);
  strengthReady().then(measure, () => undefined);
  return f;
}

// Keeps what is typed in `fields` in `state`, so that a re-render (the
// language switch, an error) loses nothing.
export function keep(fields: Record<string, Field>, state: Record<string, unknown>): void {
  for (const [key, f] of Object.entries(fields)) {
    const kept = state[key];
    f.input.value = typeof kept === "string" ? kept : "";
    f.input.addEventListener("input", () => {
      state[key] = f.input.value;
    });
  }
}

// Submits `form` by `action()`: the button off and "one moment" while it
// runs; on failure the sentence for the error (`spent` for a used link)
// and the button back, with everything typed still in place.
export function onSubmit(
  form: HTMLFormElement,
  submit: HTMLButtonElement,
  message: HTMLElement,
  spent: Key,
  action: () => Promise<void>,
): void {
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

// The language switch: an action, not a place (the fragment may hold a
// token), so a button; `render` draws the screen again.
export function languageSwitch(render: () => void, onChange?: (lang: "nl" | "en") => void): HTMLElement {
  const other = language() === "nl" ? "en" : "nl";
  const button = el("button", { type: "button", class: "link", lang: other, text: t("switch_language") });
  button.addEventListener("click", () => {
    setLanguage(other);
    onChange?.(other);
    render();
    document.querySelector<HTMLButtonElement>(".switch button")?.focus();
  });
  return el("p", { class: "switch" }, button);
}

// The recovery key, shown once: download, print, and type back its last
// four characters before going on. `next` continues (into the client).
export function showRecoveryKey(root: HTMLElement, key: string, email: string, next: () => void): void {
  const download = el("button", { type: "button", class: "secondary", text: t("download") });
  download.addEventListener("click", () =>
    save([t("recovery_file", { email, key })], t("recovery_file_name"), "text/plain"));
  const print = el("button", { type: "button", class: "secondary", text: t("print") });
  print.addEventListener("click", () => window.print());
  const typed = el("input", { id: "key-tail", autocomplete: "off", spellcheck: "false", maxlength: "4" });
  const saved = el("button", { type: "button", class: "primary", text: t("saved"), disabled: true });
  const tail = key.replace(/[^0-9A-Za-z]/g, "").slice(-4).toUpperCase();
  typed.addEventListener("input", () => {
    saved.disabled = typed.value.trim().toUpperCase() !== tail;
  });
  saved.addEventListener("click", next);
  card(root,
    el("h2", { text: t("recovery_title") }),
    el("p", { text: t("recovery_explain") }),
    el("p", { class: "key", id: "recovery-key", text: key }),
    el("p", {}, download, print),
    el("label", { for: "key-tail", text: t("confirm_saved") }), typed, saved);
  download.focus();
}
