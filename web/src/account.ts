// The account: profile and preferences (language, activity e-mails),
// two-step sign-in (the authenticator's QR code drawn here, the recovery
// codes shown once), devices with sign-out per device and everywhere,
// the password, and — for clients — deleting the account with the
// password again. Every change says in a sentence what happened.
import type { KluisSession } from "../pkg/kluis_sdk.js";
import { t, language, setLanguage, type Language } from "./i18n.js";
import { el, save, size, when, type Child } from "./dom.js";
import { openSink } from "./sink.js";
import { explain, field, passwordField } from "./forms.js";
import { strengthReady } from "./strength.js";
import { qrSvg } from "./qr.js";
import type { Me } from "./types.js";

interface TwoFactorStatus {
  totp: boolean;
  sms_phone: string | null;
  recovery_codes_left: number;
  required_by_organisation: boolean;
}

interface SessionInfo {
  id: string;
  device_label: string;
  created_ms: number;
  last_seen_ms: number;
  expires_ms: number;
  current: boolean;
}

export interface AccountContext {
  session: KluisSession;
  me: Me;
  // The account changed (language, preferences): redraw with it.
  changed(me: Me): void;
  // This session ended (everywhere, deleted): back to sign-in, saying why.
  ended(reason: string): void;
  back(): void;
}

function section(title: string, id: string, ...children: Child[]): HTMLElement {
  return el("section", { class: "account-section", "aria-labelledby": id }, el("h3", { id, text: title }), ...children);
}

// A button that runs `action`, saying "one moment", then what happened.
function act(button: HTMLButtonElement, message: HTMLElement, action: () => Promise<string | void>): void {
  button.addEventListener("click", async () => {
    button.disabled = true;
    message.className = "";
    message.textContent = t("working");
    try {
      const said = await action();
      message.className = "ok";
      message.textContent = said ?? "";
    } catch (e) {
      message.className = "error";
      message.textContent = explain(e);
    }
    button.disabled = false;
  });
}

export function accountView(ctx: AccountContext): HTMLElement {
  const view = el("section", { class: "account", "aria-labelledby": "account-title" });
  const back = el("button", { type: "button", class: "link back", text: t("back_to_list") });
  back.addEventListener("click", () => ctx.back());
  view.append(el("header", { class: "conversation-head" }, back, el("h2", { id: "account-title", text: t("account") })));
  const body = el("div", { class: "account-body" });
  view.append(body);
  body.append(profile(ctx), twoStep(ctx), devices(ctx), password(ctx), myData(ctx));
  if (ctx.me.memberships.some((m) => m.role === "client")) body.append(deletion(ctx));
  return view;
}

function profile(ctx: AccountContext): HTMLElement {
  const me = ctx.me;
  const message = el("p", { role: "status" });
  const lang = el("select", { id: "account-language" },
    el("option", { value: "nl", text: "Nederlands" }), el("option", { value: "en", text: "English" }));
  lang.value = language();
  lang.addEventListener("change", async () => {
    try {
      const updated = (await ctx.session.setPreferences(lang.value, undefined)) as Me;
      setLanguage(lang.value as Language);
      ctx.changed(updated);
    } catch (e) {
      message.className = "error";
      message.textContent = explain(e);
    }
  });
  const mails = el("input", { id: "activity-emails", type: "checkbox" });
  mails.checked = me.activity_emails;
  mails.addEventListener("change", async () => {
    try {
      ctx.me = (await ctx.session.setPreferences(undefined, mails.checked)) as Me;
      message.className = "ok";
      message.textContent = mails.checked ? t("activity_on") : t("activity_off");
    } catch (e) {
      mails.checked = !mails.checked;
      message.className = "error";
      message.textContent = explain(e);
    }
  });
  const orgs = me.memberships.map((m) => el("li", { text: `${m.organisation_name} — ${t(`role_${m.role}`)}` }));
  return section(t("profile"), "profile-title",
    el("dl", { class: "facts" },
      el("dt", { text: t("your_name") }), el("dd", { text: me.display_name }),
      el("dt", { text: t("email") }), el("dd", { text: me.email })),
    el("ul", { class: "plain" }, ...orgs),
    el("label", { for: "account-language", text: t("language") }), lang,
    el("p", { class: "check" }, mails, el("label", { for: "activity-emails", text: t("activity_emails") })),
    el("p", { class: "hint", text: t("activity_hint") }),
    message);
}

function twoStep(ctx: AccountContext): HTMLElement {
  const box = section(t("two_step"), "two-step-title");
  const content = el("div");
  box.append(content);
  const draw = async () => {
    let status: TwoFactorStatus;
    try {
      status = (await ctx.session.twoFactor()) as TwoFactorStatus;
    } catch (e) {
      content.replaceChildren(el("p", { class: "error", text: explain(e) }));
      return;
    }
    const message = el("p", { role: "status" });
    const pw = field("two-step-password", t("password"), "password", "current-password");
    if (!status.totp) {
      const start = el("button", { type: "button", class: "secondary", text: t("two_step_set_up") });
      act(start, message, async () => {
        await ctx.session.reauthenticate(pw.input.value);
        const e = (await ctx.session.enrolTotp()) as { secret: string; otpauth_uri: string };
        enrol(e);
      });
      content.replaceChildren(
        el("p", { text: status.required_by_organisation ? t("two_step_required") : t("two_step_off") }),
        ...pw.nodes, start, message);
      return;
    }
    const code = field("two-step-code", t("code_app_or_recovery"), "text", "one-time-code");
    const off = el("button", { type: "button", class: "secondary", text: t("two_step_turn_off") });
    act(off, message, async () => {
      await ctx.session.reauthenticate(pw.input.value);
      await ctx.session.disableTwoFactor(code.input.value);
      await draw();
    });
    content.replaceChildren(
      el("p", { class: "ok", text: t("two_step_on", { left: status.recovery_codes_left }) }),
      ...(status.required_by_organisation ? [el("p", { class: "hint", text: t("two_step_required") })] : [
        el("details", {}, el("summary", { text: t("two_step_turn_off") }), ...pw.nodes, ...code.nodes, off, message)]));
  };
  const enrol = (e: { secret: string; otpauth_uri: string }) => {
    const message = el("p", { role: "status" });
    const code = field("totp-code", t("code_app"), "text", "one-time-code");
    code.input.setAttribute("inputmode", "numeric");
    const confirm = el("button", { type: "button", class: "primary", text: t("confirm") });
    act(confirm, message, async () => {
      const codes = (await ctx.session.confirmTotp(code.input.value)) as string[];
      showCodes(codes);
    });
    content.replaceChildren(
      el("p", { text: t("two_step_scan") }),
      qrSvg(e.otpauth_uri, t("two_step_qr")),
      el("p", { class: "hint", text: t("two_step_secret") }),
      el("p", { class: "key", id: "totp-secret", text: e.secret }),
      ...code.nodes, confirm, message);
    code.input.focus();
  };
  const showCodes = (codes: string[]) => {
    const download = el("button", { type: "button", class: "secondary", text: t("download") });
    download.addEventListener("click", () =>
      save([t("recovery_codes_file", { email: ctx.me.email, codes: codes.join("\n") })], t("recovery_codes_file_name"), "text/plain"));
    const done = el("button", { type: "button", class: "primary", text: t("saved") });
    done.addEventListener("click", () => void draw());
    content.replaceChildren(
      el("p", { class: "ok", role: "status", text: t("two_step_now_on") }),
      el("p", { text: t("recovery_codes_explain") }),
      el("ol", { class: "codes", id: "recovery-codes" }, ...codes.map((c) => el("li", { text: c }))),
      download, done);
    done.focus();
  };
  void draw();
  return box;
}

function devices(ctx: AccountContext): HTMLElement {
  const list = el("ul", { class: "devices" });
  const message = el("p", { role: "status" });
  const draw = async () => {
    let sessions: SessionInfo[];
    try {
      sessions = (await ctx.session.sessions()) as SessionInfo[];
    } catch (e) {
      message.className = "error";
      message.textContent = explain(e);
      return;
    }
    list.replaceChildren(...sessions.map((s) => {
      const li = el("li", {},
        el("strong", { text: s.device_label || t("unknown_device") }),
        el("span", { class: "muted", text: t("last_seen", { when: when(s.last_seen_ms, language()) }) }));
      if (s.current) li.append(el("span", { class: "ok", text: t("this_device") }));
      else {
        const revoke = el("button", { type: "button", class: "link", text: t("sign_out_device") });
        act(revoke, message, async () => {
          await ctx.session.revokeSession(s.id);
          await draw();
          return t("device_signed_out");
        });
        li.append(revoke);
      }
      return li;
    }));
  };
  const everywhere = el("button", { type: "button", class: "secondary", text: t("sign_out_everywhere") });
  everywhere.addEventListener("click", async () => {
    everywhere.disabled = true;
    try {
      await ctx.session.logoutEverywhere();
      ctx.ended(t("signed_out_everywhere"));
    } catch (e) {
      everywhere.disabled = false;
      message.className = "error";
      message.textContent = explain(e);
    }
  });
  void draw();
  return section(t("devices"), "devices-title", list, everywhere, message);
}

function password(ctx: AccountContext): HTMLElement {
  const old = field("old-password", t("current_password"), "password", "current-password");
  const fresh = passwordField("new-password", "new-password", t("new_password"));
  const message = el("p", { role: "status" });
  const change = el("button", { type: "button", class: "secondary", text: t("change_password") });
  act(change, message, async () => {
    await strengthReady();
    await ctx.session.changePassword(old.input.value, fresh.input.value);
    old.input.value = "";
    fresh.input.value = "";
    return t("password_changed");
  });
  return section(t("password"), "password-title", el("p", { class: "hint", text: t("password_change_hint") }),
    ...old.nodes, ...fresh.nodes, change, message);
}

// Everything this user can read, decrypted, as one ZIP file (the right to
// data portability): JSON, the files, a manifest with their SHA-256.
function myData(ctx: AccountContext): HTMLElement {
  const message = el("p", { role: "status" });
  const button = el("button", { type: "button", class: "secondary", id: "export", text: t("export_everything") });
  button.addEventListener("click", async () => {
    // Where it goes first: the save picker needs the click.
    const sink = await openSink(`kluis-export-${new Date().toISOString().slice(0, 10)}.zip`, "application/zip");
    if (!sink) return;
    button.disabled = true;
    message.className = "";
    message.textContent = t("exporting");
    // The archive's bytes are kept (sink.ts) only once the SDK says it is
    // complete and checked.
    try {
      const files = (await ctx.session.exportZip((chunk: Uint8Array) => sink.write(chunk),
        (done: number) => { message.textContent = t("exporting_progress", { done: size(done, language()) }); })) as unknown[];
      await sink.finish();
      message.className = "ok";
      message.textContent = t("exported", { files: files.length });
    } catch (e) {
      await sink.abort();
      message.className = "error";
      message.textContent = explain(e);
    }
    button.disabled = false;
  });
  // What the server holds about me (the right of access): one JSON file,
  // the server's own account of it.
  const held = el("button", { type: "button", class: "secondary", id: "data-held", text: t("data_held") });
  held.addEventListener("click", async () => {
    const name = `kluis-gegevens-${new Date().toISOString().slice(0, 10)}.json`;
    const sink = await openSink(name, "application/json");
    if (!sink) return;
    held.disabled = true;
    message.className = "";
    message.textContent = t("working");
    try {
      const data = await ctx.session.myData();
      sink.write(new TextEncoder().encode(`${JSON.stringify(data, null, 2)}\n`));
      await sink.finish();
      message.className = "ok";
      message.textContent = t("data_held_saved");
    } catch (e) {
      await sink.abort();
      message.className = "error";
      message.textContent = explain(e);
    }
    held.disabled = false;
  });
  return section(t("my_data"), "data-title", el("p", { class: "hint", text: t("export_hint") }), button,
    el("p", { class: "hint", text: t("data_held_hint") }), held, message);
}

function deletion(ctx: AccountContext): HTMLElement {
  const message = el("p", { role: "status" });
  const box = section(t("delete_account"), "delete-title");
  const draw = (scheduled: number | null) => {
    if (scheduled) {
      const cancel = el("button", { type: "button", class: "secondary", text: t("cancel_deletion") });
      act(cancel, message, async () => {
        await ctx.session.cancelAccountDeletion();
        draw(null);
        return t("deletion_cancelled");
      });
      box.replaceChildren(box.firstChild!, el("p", { class: "warning", text: t("deletion_scheduled", { when: when(scheduled, language()) }) }), cancel, message);
      return;
    }
    const pw = field("delete-password", t("password"), "password", "current-password");
    const del = el("button", { type: "button", class: "primary danger", text: t("delete_account_now") });
    act(del, message, async () => {
      const outcome = (await ctx.session.deleteAccount(pw.input.value)) as { deleted: boolean; scheduledForMs?: number };
      if (outcome.deleted) {
        ctx.ended(t("account_deleted"));
        return;
      }
      draw(outcome.scheduledForMs ?? null);
      return t("deletion_waits");
    });
    box.replaceChildren(box.firstChild!, el("p", { class: "warning", text: t("delete_account_warning") }), ...pw.nodes, del, message);
  };
  draw(ctx.me.deletion_scheduled_for_ms);
  return box;
}
