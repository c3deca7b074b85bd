// The invitation form a coach (for clients) and a manager (for coaches and
// managers) fill in: an address, a role where there is a choice; the
// server e-mails the link. Says whom it went to, or why not. Under it, the
// invitations nobody used yet (a coach's own, all of a manager's
// organisation), each with "withdraw", which stops its link at once.
import type { KluisSession } from "../pkg/kluis_sdk.js";
import { t, language } from "./i18n.js";
import { el, when } from "./dom.js";
import { explain, field } from "./forms.js";
import type { PendingInvitation, Role } from "./types.js";

export interface InviteOptions {
  id: string;
  title: string;
  label: string;
  button: string;
  roles: Role[];
}

export function inviteForm(session: KluisSession, organisation: string, o: InviteOptions): HTMLFormElement {
  const email = field(`${o.id}-email`, o.label, "email", "off");
  const role = el("select", { id: `${o.id}-role` }, ...o.roles.map((r) => el("option", { value: r, text: t(`role_${r}`) })));
  const choice = o.roles.length > 1 ? [el("label", { for: `${o.id}-role`, text: t("role") }), role] : [];
  const submit = el("button", { type: "submit", class: "secondary", text: o.button });
  const message = el("p", { role: "status" });
  const waiting = el("div", { class: "pending", id: `${o.id}-pending` });
  const form = el("form", { class: "invite", id: o.id, novalidate: true }, el("h3", { text: o.title }),
    ...email.nodes, ...choice, submit, message, waiting);
  const refresh = () => showPending(session, organisation, waiting, message);
  void refresh();
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const to = email.input.value.trim();
    submit.disabled = true;
    message.className = "";
    message.textContent = t("working");
    try {
      await session.invite(organisation, to, role.value || o.roles[0]!);
      message.className = "ok";
      message.textContent = t("invitation_sent", { email: to });
      email.input.value = "";
      void refresh();
    } catch (e) {
      message.className = "error";
      message.textContent = explain(e);
    }
    submit.disabled = false;
  });
  return form;
}

// The invitations nobody used yet, with "withdraw".
async function showPending(session: KluisSession, organisation: string, box: HTMLElement, message: HTMLElement): Promise<void> {
  let pending: PendingInvitation[];
  try {
    pending = (await session.invitations(organisation)) as PendingInvitation[];
  } catch {
    // The form works without the list; a failure shows on the next look.
    return;
  }
  const lang = language();
  box.replaceChildren(...(pending.length === 0 ? [] : [
    el("h4", { text: t("pending_invitations") }),
    el("ul", {}, ...pending.map((p) => {
      const withdraw = el("button", { type: "button", class: "link", text: t("withdraw"), "aria-label": t("withdraw_named", { email: p.email }) });
      withdraw.addEventListener("click", async () => {
        withdraw.disabled = true;
        try {
          await session.withdrawInvitation(organisation, p.invitation_id);
          message.className = "ok";
          message.textContent = t("invitation_withdrawn", { email: p.email });
          await showPending(session, organisation, box, message);
          // The button is gone with its row: the focus goes to what
          // happened.
          message.tabIndex = -1;
          message.focus();
        } catch (e) {
          withdraw.disabled = false;
          message.className = "error";
          message.textContent = explain(e);
        }
      });
      return el("li", {},
        el("span", { text: `${p.email} · ${t(`role_${p.role}`)}` }),
        el("span", { class: "hint", text: t("invitation_valid_until", { sent: when(p.created_ms, lang), until: when(p.expires_ms, lang) }) }),
        withdraw);
    })),
  ]));
}
