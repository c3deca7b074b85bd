-- Two-factor login: a TOTP authenticator (RFC 6238), one-time recovery
-- codes, logins waiting for their second factor, and organisations that
-- require it of their members.

CREATE TABLE totp_factors (
    account_id    TEXT PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
    secret        BYTEA NOT NULL,          -- 20 random bytes (RFC 4226 §4: 160 bits)
    confirmed_ms  BIGINT,               -- NULL until a valid code proved the enrolment
    last_step     BIGINT NOT NULL DEFAULT -1,  -- the newest time step accepted: no code twice
    created_ms    BIGINT NOT NULL
);

-- Ten per enrolment; only their SHA-256 (each is 80 random bits).
CREATE TABLE recovery_codes (
    account_id  TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    code_hash   BYTEA NOT NULL,
    used_ms     BIGINT,
    PRIMARY KEY (account_id, code_hash)
);

-- The password was proven; the session waits for the second factor.
CREATE TABLE pending_logins (
    token_hash    BYTEA PRIMARY KEY,
    account_id    TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    device_label  TEXT NOT NULL,
    session_mode  TEXT NOT NULL,
    attempts      BIGINT NOT NULL DEFAULT 0,
    expires_ms    BIGINT NOT NULL
);

ALTER TABLE organisations ADD COLUMN require_two_factor BIGINT NOT NULL DEFAULT 0;
