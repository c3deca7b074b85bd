// The manager's console: the organisation's members (name, e-mail, role,
// status, dates) with search and filters, inviting coaches and managers,
// a member's details (name, a new e-mail address as a proposal the member
// confirms, contract and trajectory dates, disable/enable), the
// organisation's two-step requirement, and its relationships as metadata
// only. Nothing here can show a dialogue: the manager holds no key, and
// the API gives a manager no item.
import type { KluisSession } from "../pkg/kluis_sdk.js";
import { t, language } from "./i18n.js";
import { el } from "./dom.js";
import { explain, field } from "./forms.js";
import { inviteForm } from "./invite.js";
import type { Me, Membership, OrganisationMember, RelationshipView, Role } from "./types.js";

export interface ManagerContext {
  session: KluisSession;
  me: Me;
  organisation: Membership;
}

function dateText(d: string | null): string {
  if (!d) return "";
  const [y, m, day] = d.split("-").map(Number);
  if (!y || !m || !day) return d;
  return new Intl.DateTimeFormat(language() === "nl" ? "nl-NL" : "en-GB", { dateStyle: "medium" })
    .format(new Date(Date.UTC(y, m - 1, day)));
}

export class ManagerConsole {
  readonly node: HTMLElement;
  private members: OrganisationMember[] = [];
  private readonly table: HTMLTableSectionElement;
  private readonly count: HTMLElement;
  private readonly search: HTMLInputElement;
  private readonly role: HTMLSelectElement;
  private readonly status: HTMLSelectElement;
  private readonly relationships: HTMLElement;
  private readonly message: HTMLElement;

  constructor(private readonly ctx: ManagerContext) {
    const org = ctx.organisation;
    this.message = el("p", { role: "status", class: "console-message" });
    this.search = el("input", { id: "member-search", type: "search", autocomplete: "off" });
    this.role = el("select", { id: "member-role" },
      el("option", { value: "", text: t("all_roles") }),
      ...(["coach", "client", "manager"] as Role[]).map((r) => el("option", { value: r, text: t(`role_${r}`) })));
    this.status = el("select", { id: "member-status" },
      el("option", { value: "", text: t("all_statuses") }),
      el("option", { value: "active", text: t("status_active") }),
      el("option", { value: "disabled", text: t("status_disabled") }));
    for (const c of [this.search, this.role, this.status]) c.addEventListener("input", () => this.draw());
    this.count = el("p", { class: "hint", role: "status" });
    this.table = el("tbody");
    const head = el("thead", {}, el("tr", {},
      ...[t("your_name_column"), t("email"), t("role"), t("status"), t("dates"), ""].map((h) => el("th", { scope: "col", text: h }))));
    this.relationships = el("div");
    this.node = el("section", { class: "console", "aria-labelledby": "console-title" },
      el("header", { class: "conversation-head" }, el("h2", { id: "console-title", text: t("console_title", { organisation: org.organisation_name }) })),
      el("div", { class: "console-body" },
        el("div", { class: "filters" },
          el("span", {}, el("label", { for: "member-search", text: t("search") }), this.search),
          el("span", {}, el("label", { for: "member-role", text: t("role") }), this.role),
          el("span", {}, el("label", { for: "member-status", text: t("status") }), this.status)),
        this.count,
        el("div", { class: "table-wrap" }, el("table", { class: "members" }, head, this.table)),
        this.message,
        inviteForm(ctx.session, org.organisation_id, {
          id: "invite-member", title: t("invite_member"), label: t("email"), button: t("invite"), roles: ["coach", "manager"],
        }),
        this.twoStep(),
        el("h3", { text: t("relationships_title") }),
        el("p", { class: "hint", text: t("relationships_metadata") }),
        this.relationships));
  }

  async start(): Promise<void> {
    await this.load();
    await this.loadRelationships();
  }

  private async load(): Promise<void> {
    try {
      this.members = (await this.ctx.session.members(this.ctx.organisation.organisation_id)) as OrganisationMember[];
    } catch (e) {
      this.say(explain(e), true);
      return;
    }
    this.draw();
  }

  private say(text: string, error = false): void {
    this.message.className = error ? "console-message error" : "console-message ok";
    this.message.textContent = text;
  }

  private draw(): void {
    const q = this.search.value.trim().toLowerCase();
    const shown = this.members.filter((m) =>
      (!q || m.display_name.toLowerCase().includes(q) || m.email.toLowerCase().includes(q))
      && (!this.role.value || m.role === this.role.value)
      && (!this.status.value || (this.status.value === "disabled") === m.disabled));
    this.count.textContent = t("members_shown", { shown: shown.length, total: this.members.length });
    this.table.replaceChildren(...shown.map((m) => {
      const dates = m.role === "coach"
        ? (m.contract_end ? t("contract_until", { date: dateText(m.contract_end) }) : "")
        : m.role === "client"
          ? [m.trajectory_start ? t("from_date", { date: dateText(m.trajectory_start) }) : "",
            m.trajectory_end ? t("until_date", { date: dateText(m.trajectory_end) }) : ""].filter(Boolean).join(" ")
          : "";
      const edit = el("button", { type: "button", class: "link", text: t("details"), "aria-label": t("details_of", { name: m.display_name }) });
      edit.addEventListener("click", () => this.details(m, edit));
      return el("tr", { "data-member": m.account_id },
        el("td", { text: m.display_name }), el("td", { text: m.email }), el("td", { text: t(`role_${m.role}`) }),
        el("td", { class: m.disabled ? "error" : "", text: m.disabled ? t("status_disabled") : t("status_active") }),
        el("td", { text: dates }), el("td", {}, edit));
    }));
  }

  private twoStep(): HTMLElement {
    const box = el("input", { id: "require-two-step", type: "checkbox" });
    const message = el("p", { role: "status" });
    box.addEventListener("change", async () => {
      try {
        await this.ctx.session.requireTwoFactor(this.ctx.organisation.organisation_id, box.checked);
        message.className = "ok";
        message.textContent = box.checked ? t("two_step_required_on") : t("two_step_required_off");
      } catch (e) {
        box.checked = !box.checked;
        message.className = "error";
        message.textContent = explain(e);
      }
    });
    void (async () => {
      try {
        // The manager's own status says whether an organisation of theirs
        // requires it (a manager of one organisation: this one).
        const status = (await this.ctx.session.twoFactor()) as { required_by_organisation: boolean };
        box.checked = status.required_by_organisation;
      } catch {
        // Shown unticked; the change itself says what went wrong.
      }
    })();
    return el("div", {}, el("h3", { text: t("two_step") }),
      el("p", { class: "check" }, box, el("label", { for: "require-two-step", text: t("require_two_step") })), message);
  }

  private async loadRelationships(): Promise<void> {
    let list: RelationshipView[];
    try {
      list = (await this.ctx.session.organisationRelationships(this.ctx.organisation.organisation_id)) as RelationshipView[];
    } catch (e) {
      this.relationships.replaceChildren(el("p", { class: "error", text: explain(e) }));
      return;
    }
    if (!list.length) {
      this.relationships.replaceChildren(el("p", { class: "muted", text: t("no_relationships") }));
      return;
    }
    const names = (r: RelationshipView, role: Role) =>
      r.members.filter((m) => m.role === role && m.left_epoch === null).map((m) => m.display_name).join(", ");
    this.relationships.replaceChildren(el("div", { class: "table-wrap" }, el("table", { class: "members" },
      el("thead", {}, el("tr", {}, ...[t("role_coach"), t("role_client"), t("start"), t("end")].map((h) => el("th", { scope: "col", text: h })))),
      el("tbody", {}, ...list.map((r) => el("tr", {},
        el("td", { text: names(r, "coach") }), el("td", { text: names(r, "client") }),
        el("td", { text: dateText(r.trajectory_start) }), el("td", { text: dateText(r.trajectory_end) })))))));
  }

  // A member's details in a dialog: what a manager may change.
  private details(m: OrganisationMember, opener: HTMLElement): void {
    const name = field("member-name", t("your_name_column"), "text", "off");
    name.input.value = m.display_name;
    const email = field("member-email", t("email"), "email", "off");
    email.input.value = m.email;
    const dates: [string, string, string | null][] = m.role === "coach"
      ? [["contract_end", t("contract_end"), m.contract_end]]
      : m.role === "client"
        ? [["trajectory_start", t("trajectory_start"), m.trajectory_start], ["trajectory_end", t("trajectory_end"), m.trajectory_end]]
        : [];
    const dateFields = dates.map(([key, label, value]) => {
      const f = field(`member-${key}`, label, "date", "off");
      f.input.required = false;
      f.input.value = value ?? "";
      return { key, f };
    });
    const message = el("p", { role: "alert" });
    const save = el("button", { type: "button", class: "primary", text: t("save") });
    const toggle = el("button", { type: "button", class: m.disabled ? "secondary" : "secondary danger-text", text: m.disabled ? t("enable") : t("disable") });
    const close = el("button", { type: "button", class: "secondary", text: t("close") });
    const dialog = el("dialog", { class: "card", "aria-labelledby": "member-title" },
      el("h2", { id: "member-title", text: m.display_name }),
      el("p", { class: "muted", text: t(`role_${m.role}`) }),
      ...name.nodes, ...email.nodes, el("p", { class: "hint", text: t("email_is_proposal") }),
      ...dateFields.flatMap((d) => d.f.nodes),
      save, el("p", {}, toggle, close), message);
    save.addEventListener("click", async () => {
      const update: Record<string, string> = {};
      if (name.input.value.trim() !== m.display_name) update.display_name = name.input.value.trim();
      if (email.input.value.trim() !== m.email) update.email = email.input.value.trim();
      for (const { key, f } of dateFields) {
        const before = (m as unknown as Record<string, string | null>)[key] ?? "";
        if (f.input.value !== before) update[key] = f.input.value;
      }
      if (!Object.keys(update).length) {
        dialog.close();
        return;
      }
      save.disabled = true;
      message.className = "";
      message.textContent = t("working");
      try {
        await this.ctx.session.updateMember(this.ctx.organisation.organisation_id, m.account_id, update);
        dialog.close();
        await this.load();
        this.say(update.email ? t("member_saved_email", { email: update.email }) : t("member_saved"));
      } catch (e) {
        message.className = "error";
        message.textContent = explain(e);
        save.disabled = false;
      }
    });
    toggle.addEventListener("click", async () => {
      toggle.disabled = true;
      try {
        await this.ctx.session.setMemberDisabled(this.ctx.organisation.organisation_id, m.account_id, !m.disabled);
        dialog.close();
        await this.load();
        this.say(m.disabled ? t("member_enabled", { name: m.display_name }) : t("member_disabled", { name: m.display_name }));
      } catch (e) {
        message.className = "error";
        message.textContent = explain(e);
        toggle.disabled = false;
      }
    });
    close.addEventListener("click", () => dialog.close());
    dialog.addEventListener("close", () => {
      dialog.remove();
      opener.focus();
    });
    document.body.append(dialog);
    dialog.showModal();
    name.input.focus();
  }
}
