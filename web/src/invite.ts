// The invitation form a coach (for clients) and a manager (for coaches and
// managers) fill in: an address, a role where there is a choice; the
// server e-mails the link. Says whom it went to, or why not.
import type { KluisSession } from "../pkg/kluis_sdk.js";
import { t } from "./i18n.js";
import { el } from "./dom.js";
import { explain, field } from "./forms.js";
import type { Role } from "./types.js";

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
  const form = el("form", { class: "invite", id: o.id, novalidate: true }, el("h3", { text: o.title }),
    ...email.nodes, ...choice, submit, message);
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
    } catch (e) {
      message.className = "error";
      message.textContent = explain(e);
    }
    submit.disabled = false;
  });
  return form;
}
