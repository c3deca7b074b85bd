// Signing in: e-mail and password; then, as the account needs, a code of
// its second factor (app, recovery code, SMS) or the recovery key after a
// password reset (or, knowingly, a new identity). "Forgot password" asks
// for the e-mailed link; the link opens the reset screen here too.
import type { LoginStep } from "../pkg/kluis_sdk.js";
import { t } from "./i18n.js";
import { el, card } from "./dom.js";
import { errorName, explain, field, keep, languageSwitch, onSubmit, passwordField, showRecoveryKey } from "./forms.js";
import { strengthReady } from "./strength.js";
import type { App } from "./types.js";

// What was typed on the sign-in screens, kept across re-renders.
export interface LoginState {
  email?: string;
  password?: string;
  reason?: string;
  [typed: string]: unknown;
}

export function showLogin(app: App, state: LoginState): void {
  const render = () => showLogin(app, state);
  const email = field("email", t("email"), "email", "username");
  const password = field("password", t("password"), "password", "current-password");
  const message = el("p", { id: "form-message", role: "alert" });
  const submit = el("button", { type: "submit", class: "primary", text: t("sign_in") });
  const form = el("form", { novalidate: true }, ...email.nodes, ...password.nodes, submit, message);
  keep({ email, password }, state);
  onSubmit(form, submit, message, "link_used", async () => {
    const step = await app.client.beginLogin(email.input.value.trim(), password.input.value);
    await next(app, step, state);
  });
  const forgot = el("button", { type: "button", class: "link", text: t("forgot_password") });
  forgot.addEventListener("click", () => showForgot(app, state));
  const reason = state.reason ? [el("p", { class: "notice", role: "status", text: state.reason })] : [];
  card(app.root, el("h2", { text: t("sign_in_title") }), ...reason, form,
    el("p", { class: "switch" }, forgot), languageSwitch(render));
  (state.email ? password : email).input.focus();
}

// Where a login step leads.
async function next(app: App, step: LoginStep, state: LoginState): Promise<void> {
  switch (step.needs) {
    case "ready":
      // The password is not needed any more: drop it from the page.
      state.password = "";
      await app.signedIn(step.takeSession());
      return;
    case "second_factor":
      showSecondFactor(app, step, state, step.methods.includes("totp") ? "app" : step.methods.includes("sms") ? "sms" : "recovery");
      return;
    default:
      showRecovery(app, step, state);
  }
}

type CodeKind = "app" | "sms" | "recovery";

function showSecondFactor(app: App, step: LoginStep, state: LoginState, kind: CodeKind): void {
  const render = (k: CodeKind = kind) => showSecondFactor(app, step, state, k);
  const label = { app: t("code_app"), sms: t("code_sms"), recovery: t("code_recovery") }[kind];
  const code = field("code", label, "text", "one-time-code");
  if (kind !== "recovery") {
    code.input.setAttribute("inputmode", "numeric");
    code.input.setAttribute("maxlength", "6");
  }
  code.input.setAttribute("spellcheck", "false");
  const message = el("p", { id: "form-message", role: "alert" });
  const submit = el("button", { type: "submit", class: "primary", text: t("continue") });
  const form = el("form", { novalidate: true }, ...code.nodes, submit, message);
  onSubmit(form, submit, message, "link_used", async () => {
    try {
      await next(app, await step.complete(code.input.value), state);
    } catch (e) {
      // A wrong code: this step stays for another try, the code cleared.
      if (errorName(e) === "second_factor_failed") code.input.value = "";
      throw e;
    }
  });
  const others: HTMLElement[] = [];
  const offer = (k: CodeKind, text: string, before?: () => Promise<void>) => {
    const b = el("button", { type: "button", class: "link", text });
    b.addEventListener("click", async () => {
      try {
        await before?.();
        render(k);
      } catch (e) {
        message.className = "error";
        message.textContent = explain(e);
      }
    });
    others.push(el("p", { class: "switch" }, b));
  };
  if (kind !== "app" && step.methods.includes("totp")) offer("app", t("use_app"));
  if (kind !== "sms" && step.methods.includes("sms")) offer("sms", t("send_sms"), () => step.sendSms());
  if (kind !== "recovery") offer("recovery", t("use_recovery_code"));
  card(app.root, el("h2", { text: t("second_factor_title") }),
    el("p", { class: "muted", text: kind === "sms" ? t("sms_sent") : t("second_factor_intro") }),
    form, ...others);
  code.input.focus();
}

// After a password reset the identity is not sealed under the new
// password: the recovery key restores it; without it, only a new identity.
function showRecovery(app: App, step: LoginStep, state: LoginState): void {
  if (!step.canRecover) {
    showNewIdentity(app, step, state, false);
    return;
  }
  const key = field("recovery", t("recovery_key"), "text", "off");
  key.input.setAttribute("spellcheck", "false");
  keep({ recovery: key }, state);
  const message = el("p", { id: "form-message", role: "alert" });
  const submit = el("button", { type: "submit", class: "primary", text: t("restore") });
  const form = el("form", { novalidate: true }, ...key.nodes, submit, message);
  onSubmit(form, submit, message, "link_used", async () => {
    try {
      const session = await step.recover(key.input.value);
      state.recovery = "";
      state.password = "";
      await app.signedIn(session);
    } catch (e) {
      if (errorName(e) === "invalid_recovery_key") throw e;
      // This login ended with the failed attempt: back to sign-in, with
      // the e-mail address and the reason kept.
      state.reason = errorName(e) === "invalid_input" ? t("recovery_key_wrong") : explain(e);
      showLogin(app, state);
    }
  });
  const lost = el("button", { type: "button", class: "link", text: t("no_recovery_key") });
  lost.addEventListener("click", () => showNewIdentity(app, step, state, true));
  card(app.root, el("h2", { text: t("restore_title") }),
    el("p", { text: t("restore_intro") }), form, el("p", { class: "switch" }, lost));
  key.input.focus();
}

function showNewIdentity(app: App, step: LoginStep, state: LoginState, hadOne: boolean): void {
  const message = el("p", { id: "form-message", role: "alert" });
  const submit = el("button", { type: "submit", class: hadOne ? "primary danger" : "primary", text: t("start_new_identity") });
  const form = el("form", { novalidate: true }, submit, message);
  onSubmit(form, submit, message, "link_used", async () => {
    const done = await step.newIdentity();
    const session = done.takeSession();
    state.password = "";
    showRecoveryKey(app.root, done.recoveryKey, state.email ?? "", () => {
      if (session) void app.signedIn(session);
    });
  });
  const back = el("button", { type: "button", class: "link", text: t("back") });
  back.addEventListener("click", () => (hadOne ? showRecovery(app, step, state) : showLogin(app, state)));
  card(app.root, el("h2", { text: hadOne ? t("new_identity_title") : t("first_identity_title") }),
    el("p", { class: hadOne ? "warning" : "muted", text: hadOne ? t("new_identity_warning") : t("first_identity_intro") }),
    form, el("p", { class: "switch" }, back));
  submit.focus();
}

function showForgot(app: App, state: LoginState): void {
  const email = field("email", t("email"), "email", "username");
  keep({ email }, state);
  const message = el("p", { id: "form-message", role: "alert" });
  const submit = el("button", { type: "submit", class: "primary", text: t("send_reset_link") });
  const form = el("form", { novalidate: true }, ...email.nodes, submit, message);
  onSubmit(form, submit, message, "link_used", async () => {
    await app.client.requestPasswordReset(email.input.value.trim());
    card(app.root, el("h2", { text: t("forgot_title") }),
      el("p", { class: "ok", role: "status", text: t("reset_link_sent", { email: email.input.value.trim() }) }));
  });
  const back = el("button", { type: "button", class: "link", text: t("back") });
  back.addEventListener("click", () => showLogin(app, state));
  card(app.root, el("h2", { text: t("forgot_title") }), el("p", { class: "muted", text: t("forgot_intro") }),
    form, el("p", { class: "switch" }, back), languageSwitch(() => showForgot(app, state)));
  email.input.focus();
}

// The page the e-mailed reset link opens: a new password (and, where the
// account uses two-step sign-in, a code); then sign in and restore.
export function showReset(app: App, state: LoginState & { needsCode?: boolean; smsSent?: boolean }): void {
  const password = passwordField();
  const code = field("code", t("code_app_or_recovery"), "text", "one-time-code");
  const fields: Record<string, typeof password> = { password };
  if (state.needsCode) fields.code = code;
  keep(fields, state);
  const message = el("p", { id: "form-message", role: "alert" });
  const submit = el("button", { type: "submit", class: "primary", text: t("set_password") });
  const form = el("form", { novalidate: true }, ...password.nodes, ...(state.needsCode ? code.nodes : []), submit, message);
  onSubmit(form, submit, message, "reset_link_used", async () => {
    const typed = code.input.value.trim();
    // Six digits: the text message's code once one was sent, else the
    // app's; anything else is a recovery code.
    const method = /^\d{6}$/.test(typed) ? (state.smsSent ? "sms" : "totp") : "recovery_code";
    try {
      await strengthReady();
      await app.client.resetPassword(location.href, password.input.value,
        state.needsCode ? method : undefined, state.needsCode ? typed : undefined);
    } catch (e) {
      if (errorName(e) === "second_factor_required" && !state.needsCode) {
        state.needsCode = true;
        showReset(app, state);
        return;
      }
      throw e;
    }
    history.replaceState(null, "", "/");
    showLogin(app, { reason: t("password_was_reset") });
  });
  // No app at hand: a code by text message, where the account has a
  // phone number (the server says so if it has none).
  const sms = el("button", { type: "button", class: "link", id: "reset-sms", text: t("send_sms") });
  sms.addEventListener("click", async () => {
    sms.disabled = true;
    message.className = "";
    message.textContent = t("working");
    try {
      await app.client.sendResetSms(location.href);
      state.smsSent = true;
      message.className = "ok";
      message.textContent = t("sms_sent");
      code.input.focus();
    } catch (e) {
      message.className = "error";
      message.textContent = explain(e, "reset_link_used");
    }
    sms.disabled = false;
  });
  card(app.root, el("h2", { text: t("reset_title") }), el("p", { class: "muted", text: t("reset_intro") }),
    ...(state.needsCode ? [el("p", { class: "notice", text: t("reset_needs_code") })] : []),
    form, ...(state.needsCode ? [el("p", { class: "switch" }, sms)] : []), languageSwitch(() => showReset(app, state)));
  password.input.focus();
}
