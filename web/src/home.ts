// The signed-in client: a bar with the account and sign-out; the list of
// relationships on the left (the other person's name) and the open
// dialogue on the right — on a phone, two screens with a back button. A
// coach also sees their clients, can invite one and start a conversation;
// a manager sees plainly that they manage profiles and read nothing.
import type { KluisSession } from "../pkg/kluis_sdk.js";
import { t, language, setLanguage } from "./i18n.js";
import { el, every } from "./dom.js";
import { errorName, explain } from "./forms.js";
import { inviteForm } from "./invite.js";
import { Conversation, peersOf } from "./conversation.js";
import { accountView } from "./account.js";
import { ManagerConsole } from "./manager.js";
import type { App, Me, Membership, OrganisationMember, RelationshipView } from "./types.js";

const LIST_POLL_MS = 20000;

export class Home {
  private readonly list: HTMLElement;
  private readonly pane: HTMLElement;
  private readonly shell: HTMLElement;
  private relationships: RelationshipView[] = [];
  // A coach's clients (fetched with the relationships).
  private clients: OrganisationMember[] = [];
  private inviteClient: HTMLFormElement | undefined;
  private conversation: Conversation | undefined;
  private stopPolling: () => void = () => undefined;
  private stopped = false;

  constructor(private readonly app: App, private readonly session: KluisSession, private me: Me) {
    this.list = el("nav", { class: "list", "aria-label": t("conversations") });
    this.pane = el("div", { class: "pane" });
    this.shell = el("div", { class: "shell" }, this.list, this.pane);
  }

  private get coachOf(): Membership[] {
    return this.me.memberships.filter((m) => m.role === "coach" && !m.disabled);
  }

  private get managerOf(): Membership[] {
    return this.me.memberships.filter((m) => m.role === "manager" && !m.disabled);
  }

  async show(): Promise<void> {
    this.render();
    await this.load();
    const wanted = new URLSearchParams(location.hash.slice(1)).get("r");
    const managerOnly = this.managerOf.length > 0 && this.me.memberships.every((m) => m.role === "manager");
    this.shell.classList.toggle("manager-only", managerOnly);
    if (this.me.two_factor_enrolment_required) this.openAccount(t("two_step_enrol_first"));
    else if (location.hash === "#account") this.openAccount();
    else if (managerOnly || location.hash === "#manage") await this.openConsole();
    else if (wanted && this.relationships.some((r) => r.relationship_id === wanted)) await this.open(wanted);
    if (!this.stopped) this.stopPolling = every(LIST_POLL_MS, () => this.load());
  }

  stop(): void {
    this.stopped = true;
    this.stopPolling();
    this.conversation?.stop();
  }

  private expired(): void {
    this.stop();
    this.app.signedOut(t("session_expired"), true);
  }

  // The bar: who is signed in, the language, sign out.
  private render(): void {
    const lang = el("button", { type: "button", class: "secondary small", lang: language() === "nl" ? "en" : "nl", text: t("switch_language") });
    lang.addEventListener("click", async () => {
      const other = language() === "nl" ? "en" : "nl";
      setLanguage(other);
      // The account's language decides e-mails and notices too.
      this.session.setPreferences(other, undefined).then((me) => (this.me = me as Me)).catch(() => undefined);
      const open = this.conversation ? new URLSearchParams(location.hash.slice(1)).get("r") : null;
      this.conversation?.stop();
      this.conversation = undefined;
      this.list.setAttribute("aria-label", t("conversations"));
      this.inviteClient = undefined;
      this.render();
      this.drawList();
      // The same place, drawn in the other language.
      if (location.hash === "#account") this.openAccount();
      else if (location.hash === "#manage") await this.openConsole();
      else if (open) await this.open(open);
      document.querySelector<HTMLButtonElement>(".topbar button[lang]")?.focus();
    });
    const manage = this.managerOf.length
      ? [el("button", { type: "button", class: "secondary small manage-button", text: t("manage") })]
      : [];
    manage[0]?.addEventListener("click", () => void this.openConsole());
    const account = el("button", { type: "button", class: "secondary small account-button", text: t("account") });
    account.addEventListener("click", () => this.openAccount());
    const signOut = el("button", { type: "button", class: "secondary small", text: t("sign_out") });
    signOut.addEventListener("click", async () => {
      this.stop();
      try {
        await this.session.logout();
      } catch {
        // Signed out here regardless: the page forgets the keys.
      }
      this.app.signedOut(t("signed_out"));
    });
    const orgs = [...new Set(this.me.memberships.map((m) => m.organisation_name))].join(", ");
    const bar = el("header", { class: "topbar" },
      el("span", { class: "brand", text: "Kluis" }),
      el("span", { class: "who" }, el("strong", { text: this.me.display_name }), el("span", { class: "muted", text: orgs })),
      el("span", { class: "actions" }, lang, ...manage, account, signOut));
    const managerLine = this.managerOf.length
      ? [el("p", { class: "manager-line", text: t("manager_line") })]
      : [];
    const main = el("main", { class: "signed-in" }, ...managerLine, this.shell);
    this.app.root.replaceChildren(bar, main);
    if (!this.conversation) this.pane.replaceChildren(this.placeholder());
  }

  private placeholder(): HTMLElement {
    return el("div", { class: "placeholder" }, el("p", { class: "muted", text: t("choose_conversation") }));
  }

  private async load(): Promise<void> {
    try {
      this.relationships = (await this.session.relationships()) as RelationshipView[];
      const org = this.coachOf[0];
      if (org) this.clients = (await this.session.members(org.organisation_id)) as OrganisationMember[];
    } catch (e) {
      if (errorName(e) === "session_expired" || errorName(e) === "unauthorized") this.expired();
      return;
    }
    this.drawList();
  }

  private drawList(): void {
    const me = this.me.account_id;
    const current = new URLSearchParams(location.hash.slice(1)).get("r");
    const items = this.relationships.map((r) => {
      const names = peersOf(r, me).map((m) => m.display_name).join(", ") || t("only_you");
      const b = el("button", { type: "button", class: "relationship", "data-relationship": r.relationship_id },
        el("span", { class: "name", text: names }));
      if (r.relationship_id === current) b.setAttribute("aria-current", "true");
      b.addEventListener("click", () => void this.open(r.relationship_id));
      return el("li", {}, b);
    });
    const children: HTMLElement[] = [el("h2", { text: t("conversations") })];
    if (items.length) children.push(el("ul", { class: "relationships" }, ...items));
    else children.push(el("p", { class: "muted empty", text: this.coachOf.length ? t("empty_coach") : this.managerOf.length && !this.me.memberships.some((m) => m.role !== "manager") ? t("empty_manager") : t("empty_client") }));
    if (this.coachOf.length) children.push(this.coachTools());
    this.list.replaceChildren(...children);
  }

  // A coach: clients without a conversation yet, and inviting a client.
  private coachTools(): HTMLElement {
    const box = el("section", { class: "coach-tools", "aria-label": t("my_clients") });
    const failed = el("p", { role: "alert" });
    const org = this.coachOf[0]!;
    const me = this.me.account_id;
    const have = new Set(this.relationships.flatMap((r) => peersOf(r, me).map((m) => m.account_id)));
    const waiting = this.clients.filter((c) => c.role === "client" && !c.disabled && !have.has(c.account_id));
    if (waiting.length) {
      box.append(el("h3", { text: t("start_conversation") }), failed, el("ul", { class: "clients" }, ...waiting.map((c) => {
        const b = el("button", { type: "button", class: "secondary", text: t("start_with", { name: c.display_name }) });
        b.addEventListener("click", async () => {
          b.disabled = true;
          try {
            const rid = (await this.session.openRelationship(org.organisation_id, c.account_id)) as string;
            await this.load();
            await this.open(rid);
          } catch (e) {
            b.disabled = false;
            failed.className = "error";
            failed.textContent = explain(e);
          }
        });
        return el("li", {}, b);
      })));
    }
    // The same form every time the list is drawn: what is typed in it
    // stays through the list's refreshes.
    this.inviteClient ??= inviteForm(this.session, org.organisation_id, {
      id: "invite-client", title: t("invite_title"), label: t("client_email"), button: t("invite_client"), roles: ["client"],
    });
    box.append(this.inviteClient);
    return box;
  }

  // The manager's console, in the place of a conversation.
  private async openConsole(): Promise<void> {
    this.conversation?.stop();
    this.conversation = undefined;
    history.replaceState(null, "", "/#manage");
    const view = new ManagerConsole({ session: this.session, me: this.me, organisation: this.managerOf[0]! });
    this.pane.replaceChildren(view.node);
    this.shell.classList.add("open");
    this.drawList();
    await view.start();
  }

  // The account, in the place of a conversation; `notice` says why it
  // opened on its own.
  private openAccount(notice?: string): void {
    this.conversation?.stop();
    this.conversation = undefined;
    history.replaceState(null, "", "/#account");
    const view = accountView({
      session: this.session,
      me: this.me,
      changed: (me) => {
        this.me = me;
        this.render();
        this.drawList();
        this.openAccount();
      },
      ended: (reason) => {
        this.stop();
        this.app.signedOut(reason);
      },
      back: () => {
        history.replaceState(null, "", "/");
        this.shell.classList.remove("open");
        this.pane.replaceChildren(this.placeholder());
        document.querySelector<HTMLButtonElement>(".account-button")?.focus();
      },
    });
    if (notice) view.querySelector(".account-body")?.prepend(el("p", { class: "warning", role: "alert", text: notice }));
    this.pane.replaceChildren(view);
    this.shell.classList.add("open");
    this.drawList();
    view.querySelector("h2")?.setAttribute("tabindex", "-1");
    view.querySelector<HTMLElement>("h2")?.focus();
  }

  private async open(rid: string): Promise<void> {
    const r = this.relationships.find((x) => x.relationship_id === rid);
    if (!r) return;
    this.conversation?.stop();
    history.replaceState(null, "", `/#r=${rid}`);
    const c = new Conversation({
      session: this.session,
      me: this.me,
      relationship: r,
      expired: () => this.expired(),
      back: () => {
        c.stop();
        this.conversation = undefined;
        history.replaceState(null, "", "/");
        this.shell.classList.remove("open");
        this.pane.replaceChildren(this.placeholder());
        this.drawList();
        this.list.querySelector<HTMLButtonElement>(`[data-relationship="${rid}"]`)?.focus();
      },
    });
    this.conversation = c;
    this.pane.replaceChildren(c.node);
    this.shell.classList.add("open");
    this.drawList();
    await c.start();
    if (this.conversation === c) c.focus();
  }
}

export async function showHome(app: App, session: KluisSession): Promise<Home> {
  const me = (await session.me()) as Me;
  if (me.language !== language()) setLanguage(me.language);
  const home = new Home(app, session, me);
  await home.show();
  return home;
}
