-- Which version of the privacy notice each account was shown, in which
-- language, when, and when it acknowledged it. A new version asks again.
CREATE TABLE privacy_notices_shown (
    account_id       TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    version          BIGINT NOT NULL,
    language         TEXT NOT NULL,
    shown_ms         BIGINT NOT NULL,
    acknowledged_ms  BIGINT,
    PRIMARY KEY (account_id, version)
);
