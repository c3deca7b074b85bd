-- The SMS second factor: a phone number, usable once a code sent to it was
-- typed back, and the outstanding codes (hashed; six digits, five minutes,
-- five tries).

CREATE TABLE sms_factors (
    account_id   TEXT PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
    phone        TEXT NOT NULL,     -- E.164
    verified_ms  BIGINT,            -- NULL until a code sent to it came back
    created_ms   BIGINT NOT NULL
);

CREATE TABLE sms_codes (
    account_id  TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    purpose     TEXT NOT NULL CHECK (purpose IN ('verify_phone', 'login')),
    code_hash   BLOB NOT NULL,
    expires_ms  BIGINT NOT NULL,
    attempts    BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (account_id, purpose)
);
