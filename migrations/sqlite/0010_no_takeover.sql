-- No account takeover by a manager (issue 14, finding 4): a session's last
-- fresh password proof, e-mail address changes proposed by a manager and
-- waiting for the member, account erasures waiting out a cooling-off
-- period, and SMS codes for a password reset.

-- When the session's owner last proved the password (the login that made
-- it, or POST /api/reauth). Publishing a new identity and changing the
-- second factor need a recent one.
ALTER TABLE sessions ADD COLUMN reauthenticated_ms BIGINT;

-- A manager's proposal of a new address for a member. It changes nothing
-- until the member confirms it (logged in, or by the link sent to the
-- current address); the same link refuses it.
CREATE TABLE email_changes (
    account_id   TEXT PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
    new_email    TEXT NOT NULL,
    proposed_by  TEXT REFERENCES accounts(id) ON DELETE SET NULL,
    token_hash   BLOB NOT NULL UNIQUE,   -- the link to the current address
    created_ms   BIGINT NOT NULL,
    expires_ms   BIGINT NOT NULL
);

-- A client's erasure asked for soon after a reset, an address change or a
-- new identity: done by the worker when due, unless cancelled.
CREATE TABLE account_deletions (
    account_id    TEXT PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
    requested_ms  BIGINT NOT NULL,
    due_ms        BIGINT NOT NULL
);
CREATE INDEX account_deletions_due ON account_deletions (due_ms);

-- SMS codes gain a purpose: the second factor of a password reset. SQLite
-- cannot change a CHECK, so the table is made anew.
CREATE TABLE sms_codes_new (
    account_id  TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    purpose     TEXT NOT NULL CHECK (purpose IN ('verify_phone', 'login', 'password_reset')),
    code_hash   BLOB NOT NULL,
    expires_ms  BIGINT NOT NULL,
    attempts    BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (account_id, purpose)
);
INSERT INTO sms_codes_new (account_id, purpose, code_hash, expires_ms, attempts)
    SELECT account_id, purpose, code_hash, expires_ms, attempts FROM sms_codes;
DROP TABLE sms_codes;
ALTER TABLE sms_codes_new RENAME TO sms_codes;
