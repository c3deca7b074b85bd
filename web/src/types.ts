// The shapes of what the SDK's Promises resolve to (its serde output:
// client-sdk/src/wire.rs and dialogue.rs), and what screens share.
import type { KluisClient, KluisSession } from "../pkg/kluis_sdk.js";

export type Role = "manager" | "coach" | "client";

export interface Membership {
  organisation_id: string;
  organisation_name: string;
  role: Role;
  disabled: boolean;
}

export interface Me {
  account_id: string;
  email: string;
  email_verified: boolean;
  display_name: string;
  memberships: Membership[];
  language: "nl" | "en";
  activity_emails: boolean;
  privacy_notice_pending: boolean;
  two_factor_enrolment_required: boolean;
  proposed_email: string | null;
  deletion_scheduled_for_ms: number | null;
  session_idle_ms: number | null;
  max_attachment_bytes: number | null;
}

export interface MemberView {
  account_id: string;
  display_name: string;
  role: Role;
  joined_epoch: number;
  left_epoch: number | null;
}

export interface RelationshipView {
  relationship_id: string;
  organisation_id: string;
  current_epoch: number;
  trajectory_start: string | null;
  trajectory_end: string | null;
  members: MemberView[];
}

export type EntryContent =
  | { type: "message"; text: string }
  | { type: "document"; attachment_id: string; name: string; media_type: string; size: number }
  | { type: "note"; text: string }
  | { type: "deleted" }
  | { type: "deleted_by_author"; deleted_ms: number }
  | { type: "unreadable" };

export interface Entry {
  item_id: string;
  seq: number;
  epoch: number;
  author: string;
  received_ms: number;
  sent_ms: number | null;
  content: EntryContent;
}

export interface SafetyNumber {
  digits: string;
  qrPayloadHex: string;
  verified: boolean;
  keyChanged: boolean;
}

export interface KeyChange {
  user: string;
  pinned: string;
  offered: string;
}

export interface PrivacyNotice {
  version: number;
  language: "nl" | "en";
  text: string;
  acknowledged_ms: number | null;
}

export interface InvitationInfo {
  organisation_name: string;
  inviter_name: string | null;
  role: Role;
  email: string;
  account_exists: boolean;
}

// What every screen reaches: the page's root, the SDK, and the ways into
// and out of the signed-in client.
export interface App {
  root: HTMLElement;
  client: KluisClient;
  // After a login, sign-up or setup (`created`): the privacy notice if it
  // waits, then the signed-in client.
  signedIn(session: KluisSession, created?: boolean): Promise<void>;
  // Back to the sign-in screen (after sign-out, or a session that ended),
  // with a sentence saying why; `keepPlace` keeps the open conversation
  // in the address, to return to after signing in again.
  signedOut(reason?: string, keepPlace?: boolean): void;
}

export interface OrganisationMember {
  account_id: string;
  display_name: string;
  email: string;
  role: Role;
  disabled: boolean;
  contract_end: string | null;
  trajectory_start: string | null;
  trajectory_end: string | null;
}

export interface MembershipEvent {
  epoch: number;
  by: string;
  at_ms: number;
  opened: boolean;
  added: [string, "coach" | "client"][];
  removed: string[];
  key_changed: string[];
}

export interface ProvenMembership {
  epoch: number;
  members: { account_id: string; role: string; key_fingerprint: string; since_epoch: number }[];
  events: MembershipEvent[];
  acknowledged_epoch: number;
}

export interface PendingInvitation {
  invitation_id: string;
  email: string;
  role: Role;
  invited_by: string | null;
  created_ms: number;
  expires_ms: number;
}
