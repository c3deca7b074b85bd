-- The vault: the key directory, relationships (trajectories) with their
-- epochs and wrapped keys, items (ciphertext envelopes) and notes keys.
-- Nothing here is readable by the server: every BYTEA is an envelope of
-- docs/PROTOCOL.md whose shape the server checked.

-- Published identities. A new row only when the bundle changes (a key
-- change peers can see); re-sealing the same identity (a new password)
-- updates the sealed blobs of the current row.
CREATE TABLE identity_keys (
    account_id       TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    version          BIGINT NOT NULL,
    bundle           BYTEA NOT NULL,        -- 0x01, 146 bytes, self-signature verified
    fingerprint      BYTEA NOT NULL,        -- PROTOCOL.md §5.3
    sealed_password  BYTEA NOT NULL,        -- 0x02 kind 1, 123 bytes
    sealed_recovery  BYTEA NOT NULL,        -- 0x02 kind 2, 123 bytes
    created_ms       BIGINT NOT NULL,
    PRIMARY KEY (account_id, version)
);

CREATE TABLE relationships (
    id                TEXT PRIMARY KEY,    -- chosen by the client: it is bound into the wrapped keys
    organisation_id   TEXT NOT NULL REFERENCES organisations(id) ON DELETE CASCADE,
    created_by        TEXT NOT NULL,
    current_epoch     BIGINT NOT NULL,
    trajectory_start  TEXT,
    trajectory_end    TEXT,
    created_ms        BIGINT NOT NULL
);
CREATE INDEX relationships_organisation ON relationships (organisation_id);

-- Membership over time: a member holds the epochs from joined_epoch up to
-- (not including) left_epoch.
CREATE TABLE relationship_members (
    relationship_id  TEXT NOT NULL REFERENCES relationships(id) ON DELETE CASCADE,
    account_id       TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    role             TEXT NOT NULL CHECK (role IN ('coach', 'client')),
    joined_epoch     BIGINT NOT NULL,
    left_epoch       BIGINT,
    PRIMARY KEY (relationship_id, account_id)
);
CREATE INDEX relationship_members_account ON relationship_members (account_id);

-- One wrapped epoch key per member per epoch (0x03, 166 bytes).
CREATE TABLE wrapped_keys (
    relationship_id  TEXT NOT NULL REFERENCES relationships(id) ON DELETE CASCADE,
    epoch            BIGINT NOT NULL,
    recipient_id     TEXT NOT NULL,
    sender_id        TEXT NOT NULL,
    envelope         BYTEA NOT NULL,
    created_ms       BIGINT NOT NULL,
    PRIMARY KEY (relationship_id, epoch, recipient_id)
);
CREATE INDEX wrapped_keys_recipient ON wrapped_keys (recipient_id);

-- Items (0x04). seq orders them for pagination; envelope is NULL once the
-- author deleted the item (a tombstone both sides see).
CREATE TABLE items (
    seq              BIGSERIAL PRIMARY KEY,
    relationship_id  TEXT NOT NULL REFERENCES relationships(id) ON DELETE CASCADE,
    item_id          TEXT NOT NULL,
    epoch            BIGINT NOT NULL,
    kind             TEXT NOT NULL CHECK (kind IN ('message', 'document', 'note')),
    author_id        TEXT NOT NULL,
    envelope         BYTEA,
    digest           BYTEA NOT NULL,        -- SHA-256 of the envelope, for idempotent retries
    received_ms      BIGINT NOT NULL,
    deleted_ms       BIGINT,
    UNIQUE (relationship_id, item_id)
);
CREATE INDEX items_page ON items (relationship_id, seq);

-- A coach's notes keys (0x06), sealed to the coach's own identity.
CREATE TABLE notes_keys (
    coach_id    TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    generation  BIGINT NOT NULL,
    envelope    BYTEA NOT NULL,
    created_ms  BIGINT NOT NULL,
    PRIMARY KEY (coach_id, generation)
);
