-- Notifications: each account's language (for e-mail and the privacy
-- notice) and whether it wants activity e-mails; the outbox gains an HTML
-- body, its language and a record of giving up; activity waiting to be told
-- is gathered per recipient so that a burst gives one e-mail.

ALTER TABLE accounts ADD COLUMN language TEXT NOT NULL DEFAULT 'nl';
ALTER TABLE accounts ADD COLUMN notify_activity INTEGER NOT NULL DEFAULT 1;
-- The language of the invitee's e-mails until they choose their own.
ALTER TABLE invitations ADD COLUMN language TEXT NOT NULL DEFAULT 'nl';

ALTER TABLE outbox ADD COLUMN body_html TEXT;
ALTER TABLE outbox ADD COLUMN language TEXT NOT NULL DEFAULT 'en';
-- Set when the worker gave up (a permanent refusal or too many attempts).
ALTER TABLE outbox ADD COLUMN failed_ms BIGINT;

-- New messages or files not yet told: one row per recipient, e-mailed once
-- due_ms has passed (the end of the gathering interval).
CREATE TABLE activity_pending (
    account_id  TEXT PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
    due_ms      BIGINT NOT NULL
);
CREATE INDEX activity_pending_due ON activity_pending (due_ms);

-- When the last activity e-mail went to the account: the next one waits
-- until a whole interval has passed.
ALTER TABLE accounts ADD COLUMN activity_mailed_ms BIGINT;
