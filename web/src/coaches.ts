// A coach adds another coach of the organisation to a conversation: the
// SDK makes a new epoch whose signed membership record names them and
// wraps its key to everyone in it. The dialog says what that means before
// anything happens; the client then sees who joined before sending again.
import type { KluisSession } from "../pkg/kluis_sdk.js";
import { t } from "./i18n.js";
import { el } from "./dom.js";
import { explain } from "./forms.js";
import type { OrganisationMember, RelationshipView } from "./types.js";

// Opens the dialog; resolves to true when a coach was added.
export async function addCoachDialog(session: KluisSession, r: RelationshipView): Promise<boolean> {
  const inside = new Set(r.members.filter((m) => m.left_epoch === null).map((m) => m.account_id));
  let coaches: OrganisationMember[] = [];
  let loaded = false;
  const message = el("p", { role: "alert" });
  try {
    const all = (await session.members(r.organisation_id)) as OrganisationMember[];
    coaches = all.filter((m) => m.role === "coach" && !m.disabled && !inside.has(m.account_id));
    loaded = true;
  } catch (e) {
    message.className = "error";
    message.textContent = explain(e);
  }
  return new Promise((resolve) => {
    const close = el("button", { type: "button", class: "secondary", text: t("cancel") });
    const body: HTMLElement[] = [];
    const add = el("button", { type: "button", class: "primary", id: "add-coach-confirm", text: t("add_coach_confirm") });
    const choice = el("select", { id: "add-coach-choice" },
      ...coaches.map((c) => el("option", { value: c.account_id, text: c.display_name === c.email ? c.email : `${c.display_name} (${c.email})` })));
    if (!loaded) {
      // The sentence for the failure is in `message`.
    } else if (coaches.length === 0) {
      body.push(el("p", { class: "hint", text: t("add_coach_none") }));
    } else {
      body.push(el("label", { for: "add-coach-choice", text: t("add_coach_who") }), choice,
        el("p", { class: "warning", text: t("add_coach_explain") }), add);
    }
    const dialog = el("dialog", { class: "card", "aria-labelledby": "add-coach-title" },
      el("h2", { id: "add-coach-title", text: t("add_coach") }), ...body, close, message);
    let added = false;
    add.addEventListener("click", async () => {
      add.disabled = true;
      message.className = "";
      message.textContent = t("working");
      try {
        await session.addCoach(r.relationship_id, choice.value);
        added = true;
        dialog.close();
      } catch (e) {
        message.className = "error";
        message.textContent = explain(e);
        add.disabled = false;
      }
    });
    close.addEventListener("click", () => dialog.close());
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve(added);
    });
    document.body.append(dialog);
    dialog.showModal();
    (coaches.length ? choice : close).focus();
  });
}
