-- Accounts, organisations and roles, invitations, e-mailed tokens, sessions,
-- OPAQUE login state, password-reset requests and the e-mail outbox.
-- Times are Unix milliseconds (BIGINT); ids are UUID text; dates YYYY-MM-DD.
-- Every token is stored only as its SHA-256 (32 bytes).

CREATE TABLE organisations (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    created_ms  BIGINT NOT NULL
);

CREATE TABLE accounts (
    id              TEXT PRIMARY KEY,
    email           TEXT NOT NULL UNIQUE,         -- normalised: trimmed, lower-case
    display_name    TEXT NOT NULL,
    opaque_record   BLOB NOT NULL,                -- RFC 9807 registration record
    email_verified  INTEGER NOT NULL DEFAULT 0,
    disabled        INTEGER NOT NULL DEFAULT 0,   -- by the operator: no login at all
    created_ms      BIGINT NOT NULL
);

CREATE TABLE memberships (
    organisation_id   TEXT NOT NULL REFERENCES organisations(id) ON DELETE CASCADE,
    account_id        TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    role              TEXT NOT NULL CHECK (role IN ('manager', 'coach', 'client')),
    contract_end      TEXT,      -- coaches
    trajectory_start  TEXT,      -- clients
    trajectory_end    TEXT,      -- clients
    disabled          INTEGER NOT NULL DEFAULT 0,   -- by a manager of this organisation
    created_ms        BIGINT NOT NULL,
    PRIMARY KEY (organisation_id, account_id)
);
CREATE INDEX memberships_account ON memberships (account_id);

-- Which coach invited (and so may work with) which client.
CREATE TABLE coach_clients (
    organisation_id  TEXT NOT NULL,
    coach_id         TEXT NOT NULL,
    client_id        TEXT NOT NULL,
    created_ms       BIGINT NOT NULL,
    PRIMARY KEY (organisation_id, coach_id, client_id),
    FOREIGN KEY (organisation_id, coach_id) REFERENCES memberships (organisation_id, account_id) ON DELETE CASCADE,
    FOREIGN KEY (organisation_id, client_id) REFERENCES memberships (organisation_id, account_id) ON DELETE CASCADE
);

CREATE TABLE invitations (
    id               TEXT PRIMARY KEY,
    token_hash       BLOB NOT NULL UNIQUE,
    organisation_id  TEXT NOT NULL REFERENCES organisations(id) ON DELETE CASCADE,
    email            TEXT NOT NULL,
    role             TEXT NOT NULL CHECK (role IN ('manager', 'coach', 'client')),
    invited_by       TEXT REFERENCES accounts(id) ON DELETE SET NULL,  -- NULL: the operator
    new_account_id   TEXT NOT NULL,   -- the id (and OPAQUE credential id) if the invitee registers
    created_ms       BIGINT NOT NULL,
    expires_ms       BIGINT NOT NULL,
    accepted_ms      BIGINT,
    accepted_by      TEXT
);

-- Single-use links sent by e-mail: address verification and password reset.
CREATE TABLE email_tokens (
    token_hash   BLOB PRIMARY KEY,
    purpose      TEXT NOT NULL CHECK (purpose IN ('verify_email', 'password_reset')),
    account_id   TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    email        TEXT NOT NULL,
    created_ms   BIGINT NOT NULL,
    expires_ms   BIGINT NOT NULL,
    used_ms      BIGINT
);

-- The one-time link that creates the first organisation.
CREATE TABLE setup_tokens (
    token_hash       BLOB PRIMARY KEY,
    new_account_id   TEXT NOT NULL,
    created_ms       BIGINT NOT NULL,
    expires_ms       BIGINT NOT NULL,
    used_ms          BIGINT
);

CREATE TABLE sessions (
    id            TEXT PRIMARY KEY,
    token_hash    BLOB NOT NULL UNIQUE,
    account_id    TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    device_label  TEXT NOT NULL,
    created_ms    BIGINT NOT NULL,
    last_seen_ms  BIGINT NOT NULL,
    expires_ms    BIGINT NOT NULL,   -- absolute lifetime
    revoked_ms    BIGINT
);
CREATE INDEX sessions_account ON sessions (account_id);

-- OPAQUE server state between KE2 and KE3, so that a login may finish on
-- another instance. account_id is NULL for an unknown e-mail (fake record).
CREATE TABLE login_attempts (
    id          TEXT PRIMARY KEY,
    account_id  TEXT REFERENCES accounts(id) ON DELETE CASCADE,
    state       BLOB NOT NULL,
    expires_ms  BIGINT NOT NULL
);

-- Password-reset requests, written the same way for every e-mail and
-- handled by the worker, so the request's answer cannot tell whether the
-- account exists.
CREATE TABLE reset_requests (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL,
    requested_ms  BIGINT NOT NULL
);

-- Account events a user and their peers may need to know about.
CREATE TABLE account_events (
    id          TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    kind        TEXT NOT NULL,
    created_ms  BIGINT NOT NULL
);
CREATE INDEX account_events_account ON account_events (account_id);

-- E-mail to send, written in the transaction of the event that causes it.
-- The body may hold a link token, so it is cleared once delivered.
CREATE TABLE outbox (
    id               TEXT PRIMARY KEY,
    recipient        TEXT NOT NULL,
    kind             TEXT NOT NULL,
    subject          TEXT NOT NULL,
    body_text        TEXT,
    created_ms       BIGINT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms  BIGINT NOT NULL,
    claim_id         TEXT,
    claimed_until_ms BIGINT,
    sent_ms          BIGINT,
    last_error       TEXT
);
CREATE INDEX outbox_pending ON outbox (sent_ms, next_attempt_ms);
