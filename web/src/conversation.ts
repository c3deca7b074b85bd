// One relationship's dialogue: the people in it with their trust shields,
// a banner that blocks sending while someone's key changed and was not yet
// compared, the messages (mine right, theirs left; author and time), and
// the composer (Enter sends, Shift+Enter a new line). New messages appear
// without a reload: the dialogue is fetched again every few seconds while
// the page is visible. Drafts survive a re-render and a failed send.
// A coach has a second tab, "Notes (only you)": their private notes on the
// relationship, visibly marked, never shown to the client.
import type { KluisSession } from "../pkg/kluis_sdk.js";
import { t, language } from "./i18n.js";
import { clipIcon, el, every, when } from "./dom.js";
import { errorName, explain } from "./forms.js";
import { compareDialog, shield, trustOf, type TrustState } from "./trust.js";
import { documentCard, showUnfinished, upload, type FileContext } from "./files.js";
import { addCoachDialog } from "./coaches.js";
import type { Entry, Me, MemberView, MembershipEvent, ProvenMembership, RelationshipView, SafetyNumber } from "./types.js";

const POLL_MS = 4000;
// How many of the newest entries one look while following fetches.
const FOLLOW_LIMIT = 20;
// How many entries a page of the dialogue holds.
const PAGE = 50;

// Drafts per relationship and tab, for as long as the page lives (never
// stored).
const drafts = new Map<string, string>();

type Tab = "dialogue" | "notes";

export interface ConversationContext {
  session: KluisSession;
  me: Me;
  relationship: RelationshipView;
  // The session ended (expired, revoked): back to sign-in.
  expired(): void;
  // Back to the list (phones).
  back(): void;
}

export function peersOf(r: RelationshipView, me: string): MemberView[] {
  return r.members.filter((m) => m.left_epoch === null && m.account_id !== me);
}

export class Conversation {
  readonly node: HTMLElement;
  private readonly list: HTMLOListElement;
  private readonly banner: HTMLElement;
  private readonly people: HTMLElement;
  private readonly composer: HTMLTextAreaElement;
  private readonly send: HTMLButtonElement;
  private readonly status: HTMLElement;
  private readonly names = new Map<string, string>();
  private readonly uploads: HTMLElement;
  private readonly picker: HTMLInputElement;
  private trust = new Map<string, { state: TrustState; number: SafetyNumber }>();
  private lastSeq = -1;
  private history: MembershipEvent[] = [];
  private readonly joinBanner: HTMLElement;
  private entries: Entry[] = [];
  // The cursor of the page before the oldest shown, if there is one.
  private older: string | null = null;
  private loadingOlder = false;
  private tab: Tab = "dialogue";
  private readonly privateLine: HTMLElement;
  private readonly tabs: HTMLButtonElement[] = [];
  private stopPolling: () => void = () => undefined;
  private stopped = false;

  constructor(private readonly ctx: ConversationContext) {
    const r = ctx.relationship;
    for (const m of r.members) this.names.set(m.account_id, m.display_name);
    const back = el("button", { type: "button", class: "link back", text: t("back_to_list") });
    back.addEventListener("click", () => ctx.back());
    this.people = el("div", { class: "people" });
    this.banner = el("div", { class: "banner", role: "alert", hidden: true });
    this.joinBanner = el("div", { class: "banner", id: "join-banner", role: "alert", hidden: true });
    this.list = el("ol", { class: "messages", "aria-live": "polite", "aria-label": t("messages") });
    this.list.addEventListener("scroll", () => {
      if (this.list.scrollTop < 40) void this.loadOlder();
    });
    this.status = el("p", { class: "hint composer-status", role: "status" });
    this.composer = el("textarea", { id: "composer", rows: "2", "aria-label": t("message_label"), placeholder: t("message_placeholder") });
    this.composer.value = drafts.get(this.draftKey) ?? "";
    this.composer.addEventListener("input", () => drafts.set(this.draftKey, this.composer.value));
    this.composer.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
        ev.preventDefault();
        void this.sendDraft();
      }
    });
    this.send = el("button", { type: "submit", class: "primary send", text: t("send") });
    // A file: the paper-clip (a labelled file input) or a drop.
    this.uploads = el("div", { class: "uploads", "aria-live": "polite" });
    this.picker = el("input", { id: "attach", type: "file", class: "visually-hidden" });
    this.picker.addEventListener("change", () => {
      for (const f of Array.from(this.picker.files ?? [])) void upload(this.files, this.uploads, f);
      this.picker.value = "";
    });
    const clip = el("label", { for: "attach", class: "attach", title: t("attach_file") },
      el("span", { class: "visually-hidden", text: t("attach_file") }), clipIcon());
    const form = el("form", { class: "composer", novalidate: true },
      el("label", { for: "composer", class: "visually-hidden", text: t("message_label") }), this.picker, clip, this.composer, this.send);
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      void this.sendDraft();
    });
    this.privateLine = el("p", { class: "private-line", hidden: true, text: t("notes_private") });
    const isCoach = r.members.some((m) => m.account_id === ctx.me.account_id && m.role === "coach" && m.left_epoch === null);
    const tabBar = el("div", { class: "tabs", role: "tablist", "aria-label": t("views") });
    if (isCoach) {
      for (const [tab, label] of [["dialogue", t("tab_dialogue")], ["notes", t("tab_notes")]] as [Tab, string][]) {
        const b = el("button", { type: "button", role: "tab", class: `tab ${tab}`, "aria-selected": String(tab === this.tab), text: label });
        b.addEventListener("click", () => this.show(tab));
        this.tabs.push(b);
        tabBar.append(b);
      }
    }
    const addCoach = el("button", { type: "button", class: "link add-coach", text: t("add_coach") });
    addCoach.addEventListener("click", async () => {
      if (await addCoachDialog(ctx.session, ctx.relationship)) {
        await this.checkMembers();
        this.status.className = "ok composer-status";
        this.status.textContent = t("coach_added");
      }
    });
    const title = el("h2", { class: "conversation-title", text: peersOf(r, ctx.me.account_id).map((m) => m.display_name).join(", ") || t("only_you") });
    this.node = el("section", { class: "conversation", "aria-labelledby": "conversation-title" },
      el("header", { class: "conversation-head" }, back, title, this.people, ...(isCoach ? [addCoach] : [])),
      ...(isCoach ? [tabBar] : []),
      this.banner,
      this.joinBanner,
      this.privateLine,
      this.list,
      this.uploads, form, this.status);
    this.node.addEventListener("dragover", (ev) => {
      if (this.tab !== "dialogue" || this.blocked) return;
      ev.preventDefault();
      this.node.classList.add("dropping");
    });
    this.node.addEventListener("dragleave", () => this.node.classList.remove("dropping"));
    this.node.addEventListener("drop", (ev) => {
      this.node.classList.remove("dropping");
      if (this.tab !== "dialogue" || this.blocked) return;
      ev.preventDefault();
      for (const f of Array.from(ev.dataTransfer?.files ?? [])) void upload(this.files, this.uploads, f);
    });
    title.id = "conversation-title";
    showUnfinished(this.files, this.uploads);
  }

  private get files(): FileContext {
    return {
      session: this.ctx.session,
      relationship: this.ctx.relationship.relationship_id,
      streamLimit: this.ctx.me.max_attachment_bytes,
      uploaded: () => this.refresh(),
    };
  }

  private get draftKey(): string {
    return `${this.ctx.relationship.relationship_id}/${this.tab}`;
  }

  // Switches between the dialogue and the coach's private notes.
  private show(tab: Tab): void {
    if (tab === this.tab) return;
    drafts.set(this.draftKey, this.composer.value);
    this.tab = tab;
    for (const b of this.tabs) b.setAttribute("aria-selected", String(b.classList.contains(tab)));
    this.node.classList.toggle("notes-open", tab === "notes");
    this.privateLine.hidden = tab !== "notes";
    this.composer.value = drafts.get(this.draftKey) ?? "";
    this.composer.placeholder = tab === "notes" ? t("note_placeholder") : t("message_placeholder");
    this.composer.setAttribute("aria-label", tab === "notes" ? t("note_label") : t("message_label"));
    this.send.textContent = tab === "notes" ? t("save_note") : t("send");
    this.setBlocked(this.blocked);
    this.draw(true);
    this.composer.focus();
  }

  // Loads trust and messages, then follows the conversation.
  async start(): Promise<void> {
    await this.checkTrust();
    await this.checkMembers();
    await this.refresh();
    if (!this.stopped) this.stopPolling = every(POLL_MS, () => this.refresh());
  }

  stop(): void {
    this.stopped = true;
    this.stopPolling();
  }

  focus(): void {
    this.composer.focus();
  }

  private fail(e: unknown): void {
    if (errorName(e) === "session_expired" || errorName(e) === "unauthorized") {
      this.stop();
      this.ctx.expired();
      return;
    }
    this.status.className = "error composer-status";
    this.status.textContent = explain(e);
  }

  // The safety number of each person: the shields, and the banner when a
  // key changed.
  private async checkTrust(): Promise<void> {
    const peers = peersOf(this.ctx.relationship, this.ctx.me.account_id);
    const trust = new Map<string, { state: TrustState; number: SafetyNumber }>();
    for (const p of peers) {
      try {
        const n = (await this.ctx.session.safetyNumber(p.account_id)) as SafetyNumber;
        trust.set(p.account_id, { state: trustOf(n), number: n });
      } catch (e) {
        this.fail(e);
      }
    }
    this.trust = trust;
    this.people.replaceChildren(...peers.map((p) => {
      const tr = trust.get(p.account_id);
      const compare = el("button", { type: "button", class: "link", text: tr?.state === "verified" ? t("show_safety_number") : t("compare_safety_number") });
      compare.addEventListener("click", () => void this.compare(p));
      // With one other person the title names them already.
      const name = peers.length > 1 ? [el("span", { text: p.display_name })] : [];
      compare.setAttribute("aria-label", `${compare.textContent}: ${p.display_name}`);
      return el("span", { class: "person" }, tr ? shield(tr.state) : "", ...name, compare);
    }));
    const changed = peers.filter((p) => trust.get(p.account_id)?.state === "changed");
    this.banner.hidden = changed.length === 0;
    this.setBlocked(changed.length > 0);
    if (changed.length > 0) {
      const p = changed[0]!;
      const look = el("button", { type: "button", class: "secondary", text: t("compare_now") });
      look.addEventListener("click", () => void this.compare(p));
      this.banner.replaceChildren(el("p", { text: t("key_changed_banner", { name: p.display_name }) }), look);
    }
  }

  private blocked = false;
  private joinsUnseen = false;

  // Who joined and left, as the signed membership chain proves it: lines
  // in the dialogue, and a banner — blocking sending until looked at —
  // for joins this device has not acknowledged.
  private async checkMembers(): Promise<void> {
    const rid = this.ctx.relationship.relationship_id;
    let proven: ProvenMembership;
    try {
      proven = (await this.ctx.session.membership(rid)) as ProvenMembership;
    } catch (e) {
      this.fail(e);
      return;
    }
    const changed = proven.events.length !== this.history.length;
    this.history = proven.events;
    const me = this.ctx.me.account_id;
    // Someone new: their name from the relationship as it is now.
    const unknown = proven.events.some((ev) => ev.added.some(([who]) => !this.names.has(who)));
    if (unknown) {
      try {
        const all = (await this.ctx.session.relationships()) as RelationshipView[];
        const now = all.find((r) => r.relationship_id === rid);
        if (now) {
          for (const m of now.members) this.names.set(m.account_id, m.display_name);
          // The people in the header, with their shields and numbers.
          this.ctx.relationship = now;
          await this.checkTrust();
        }
      } catch {
        // The names stay "someone"; the ids are proven either way.
      }
    }
    if (changed && this.list.dataset.loaded === "yes") this.draw(false);
    // Not the joins this user made (a coach adding a colleague).
    const news = proven.events.filter((ev) => !ev.opened && ev.epoch > proven.acknowledged_epoch
      && ev.by !== me && ev.added.some(([who]) => who !== me));
    this.joinsUnseen = news.length > 0;
    this.joinBanner.hidden = !this.joinsUnseen;
    if (this.joinsUnseen) {
      const lines = news.flatMap((ev) => ev.added.filter(([who]) => who !== me).map(([who, role]) =>
        el("p", { text: t("joined_banner", { name: this.name(who), role: t(`role_${role}`), when: when(ev.at_ms, language()) }) })));
      const ok = el("button", { type: "button", class: "secondary", text: t("understood") });
      ok.addEventListener("click", async () => {
        ok.disabled = true;
        try {
          await this.ctx.session.acknowledgeJoins(rid, proven.epoch);
          this.joinsUnseen = false;
          this.joinBanner.hidden = true;
          this.setBlocked(this.blocked);
          this.composer.focus();
        } catch (e) {
          ok.disabled = false;
          this.fail(e);
        }
      });
      this.joinBanner.replaceChildren(el("div", {}, ...lines, el("p", { class: "hint", text: t("joined_explain") })), ok);
    }
    this.setBlocked(this.blocked);
  }

  private name(account: string): string {
    return account === this.ctx.me.account_id ? t("you") : this.names.get(account) ?? t("someone");
  }

  // One line of the membership history, for the dialogue.
  private historyLine(ev: MembershipEvent): HTMLElement {
    const at = when(ev.at_ms, language());
    const parts: string[] = [];
    if (ev.opened) parts.push(t("history_opened", { name: this.name(ev.by), when: at }));
    for (const [who, role] of ev.opened ? [] : ev.added) parts.push(t("history_joined", { name: this.name(who), role: t(`role_${role}`), when: at }));
    for (const who of ev.removed) parts.push(t("history_left", { name: this.name(who), when: at }));
    for (const who of ev.key_changed) parts.push(t("history_key", { name: this.name(who), when: at }));
    return el("li", { class: "history", text: parts.join(" ") });
  }

  // A changed key blocks sending to the dialogue (not a note to oneself).
  private setBlocked(blocked: boolean): void {
    this.blocked = blocked;
    const stop = (blocked || this.joinsUnseen) && this.tab === "dialogue";
    this.send.disabled = stop;
    this.picker.disabled = stop || this.tab !== "dialogue";
    this.composer.setAttribute("aria-describedby", stop ? "blocked-hint" : "");
    if (stop) {
      this.status.id = "blocked-hint";
      this.status.className = "hint composer-status";
      this.status.textContent = blocked ? t("send_blocked") : t("send_after_joined");
    } else if (this.status.id === "blocked-hint") {
      this.status.textContent = "";
    }
  }

  private async compare(p: MemberView): Promise<void> {
    const tr = this.trust.get(p.account_id);
    if (!tr) return;
    const done = await compareDialog(this.ctx.session, p.account_id, p.display_name, tr.number);
    if (done) await this.checkTrust();
  }

  // The newest page when the conversation opens (every entry checked by
  // the SDK), older pages on the way up; while following, only the newest
  // few (checked the same way), merged in by their place. When more
  // arrived than one look fetches, the newest page again: nothing in
  // between is shown as if it were not there.
  async refresh(): Promise<void> {
    const rid = this.ctx.relationship.relationship_id;
    let entries: Entry[];
    try {
      if (this.entries.length === 0 || this.lastSeq < 0) {
        entries = await this.firstPage(rid);
      } else {
        const newest = (await this.ctx.session.recent(rid, FOLLOW_LIMIT)) as Entry[];
        const known = new Map(this.entries.map((e) => [e.seq, e]));
        const maxKnown = this.entries[this.entries.length - 1]!.seq;
        const gap = newest.length === FOLLOW_LIMIT && newest[0]!.seq > maxKnown;
        if (gap) {
          entries = await this.firstPage(rid);
        } else {
          for (const e of newest) known.set(e.seq, e);
          entries = [...known.values()].sort((a, b) => a.seq - b.seq);
        }
      }
    } catch (e) {
      this.fail(e);
      return;
    }
    const last = entries.length ? entries[entries.length - 1]!.seq : 0;
    const deleted = entries.filter((e) => e.content.type.startsWith("deleted")).length;
    const key = last * 1000 + deleted;
    if (key === this.lastSeq && entries.length === this.entries.length) return;
    this.lastSeq = key;
    this.entries = entries;
    this.draw(false);
  }

  private async firstPage(rid: string): Promise<Entry[]> {
    const page = (await this.ctx.session.dialoguePage(rid, undefined, undefined, PAGE)) as { entries: Entry[]; older: string | null };
    this.older = page.older;
    return page.entries;
  }

  // The page before the oldest shown, kept in view where the reader was.
  private async loadOlder(): Promise<void> {
    if (!this.older || this.loadingOlder || this.entries.length === 0) return;
    this.loadingOlder = true;
    const rid = this.ctx.relationship.relationship_id;
    try {
      const page = (await this.ctx.session.dialoguePage(rid, this.older, this.entries[0]!.seq, PAGE)) as
        { entries: Entry[]; older: string | null };
      const known = new Map(this.entries.map((e) => [e.seq, e]));
      for (const e of page.entries) if (!known.has(e.seq)) known.set(e.seq, e);
      this.entries = [...known.values()].sort((a, b) => a.seq - b.seq);
      this.older = page.older;
      const from = this.list.scrollHeight - this.list.scrollTop;
      this.draw(false);
      this.list.scrollTop = this.list.scrollHeight - from;
    } catch (e) {
      this.fail(e);
    }
    this.loadingOlder = false;
  }

  // The entries of the open tab: the dialogue's messages, or the notes.
  private draw(jump: boolean): void {
    const atBottom = this.list.scrollHeight - this.list.scrollTop - this.list.clientHeight < 40;
    const notes = this.tab === "notes";
    const shown = this.entries.filter((e) => (e.content.type === "note") === notes);
    const rows: [number, HTMLElement][] = shown.map((e) => [e.sent_ms ?? e.received_ms, this.bubble(e)]);
    if (!notes) {
      // The membership changes that make the history worth telling: who
      // joined, left or changed key after the start.
      // (Older than the oldest entry shown: told when that page is.)
      const since = this.older && shown.length ? (shown[0]!.sent_ms ?? shown[0]!.received_ms) : -Infinity;
      for (const ev of this.history) {
        if (ev.at_ms < since) continue;
        if (ev.opened || ev.added.length || ev.removed.length || ev.key_changed.length) rows.push([ev.at_ms, this.historyLine(ev)]);
      }
    }
    rows.sort((a, b) => a[0] - b[0]);
    this.list.replaceChildren(...rows.map(([, node]) => node));
    if (this.older) {
      const more = el("button", { type: "button", class: "secondary small older", text: t("show_earlier") });
      more.addEventListener("click", () => void this.loadOlder());
      this.list.prepend(el("li", { class: "more" }, more));
    }
    if (shown.length === 0) this.list.append(el("li", { class: "empty", text: notes ? t("no_notes_yet") : t("no_messages_yet") }));
    if (jump || atBottom || this.list.dataset.loaded !== "yes") this.list.scrollTop = this.list.scrollHeight;
    this.list.dataset.loaded = "yes";
  }

  private bubble(e: Entry): HTMLElement {
    const mine = e.author === this.ctx.me.account_id;
    const author = mine ? t("you") : this.names.get(e.author) ?? t("someone");
    const time = el("time", { datetime: new Date(e.sent_ms ?? e.received_ms).toISOString(), text: when(e.sent_ms ?? e.received_ms, language()) });
    const meta = el("p", { class: "meta" }, el("span", { class: "author", text: author }), " · ", time);
    const li = el("li", { class: `bubble ${mine ? "mine" : "theirs"}`, "data-item": e.item_id });
    switch (e.content.type) {
      case "message":
        li.append(meta, el("p", { class: "text", text: e.content.text }));
        break;
      case "note":
        li.classList.add("note");
        li.append(meta, el("p", { class: "text", text: e.content.text }));
        break;
      case "document":
        li.append(meta, documentCard(this.ctx.session, this.ctx.relationship.relationship_id, e.item_id, e.content));
        break;
      case "deleted_by_author":
        li.classList.add("gone");
        li.append(meta, el("p", { class: "text", text: t("deleted_by_author", { when: when(e.content.deleted_ms, language()) }) }));
        return li;
      case "deleted":
        li.classList.add("gone");
        li.append(meta, el("p", { class: "text", text: t("deleted_by_server") }));
        return li;
      default:
        li.classList.add("gone");
        li.append(meta, el("p", { class: "text", text: t("unreadable") }));
        return li;
    }
    if (mine) {
      const del = el("button", { type: "button", class: "link delete", text: t("delete"), "aria-label": t("delete_message") });
      del.addEventListener("click", async () => {
        if (!window.confirm(t("delete_confirm"))) return;
        try {
          await this.ctx.session.deleteItem(this.ctx.relationship.relationship_id, e.item_id);
          // The server took the signed deletion; shown as such here (the
          // item may be older than what following looks at). A later load
          // shows what the SDK verifies.
          this.entries = this.entries.map((x) => x.item_id === e.item_id
            ? { ...x, content: { type: "deleted_by_author", deleted_ms: Date.now() } }
            : x);
          this.draw(false);
        } catch (err) {
          this.fail(err);
        }
      });
      meta.append(" · ", del);
    }
    return li;
  }

  private async sendDraft(): Promise<void> {
    const text = this.composer.value;
    if (text.trim() === "" || this.send.disabled) return;
    const rid = this.ctx.relationship.relationship_id;
    const key = this.draftKey;
    const note = this.tab === "notes";
    // Who reads along is decided by the signed membership: look again
    // before a message goes, so that nobody added since is a surprise.
    if (!note) {
      await this.checkMembers();
      if (this.joinsUnseen) return;
    }
    this.send.disabled = true;
    this.status.className = "hint composer-status";
    this.status.textContent = t("sending");
    try {
      if (note) await this.ctx.session.addNote(rid, text);
      else await this.ctx.session.sendMessage(rid, text);
      // Only now is the draft gone: a failed send keeps every word.
      if (this.composer.value === text) this.composer.value = "";
      drafts.delete(key);
      this.status.textContent = "";
      this.setBlocked(this.blocked);
      await this.refresh();
      this.list.scrollTop = this.list.scrollHeight;
    } catch (e) {
      this.setBlocked(this.blocked);
      if (errorName(e) === "key_changed") await this.checkTrust();
      this.fail(e);
    }
    this.composer.focus();
  }
}
