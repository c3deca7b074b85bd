-- The membership chain (PROTOCOL.md §7.6): one record per epoch, signed by
-- a coach who was a member before the change. The server checks each
-- record's shape, link and signature against what it knows, stores it, and
-- serves the chain; members verify it themselves before they unwrap or
-- wrap a key. Relationships opened before this table existed have no
-- chain, and clients refuse them.
CREATE TABLE membership_records (
    relationship_id  TEXT NOT NULL REFERENCES relationships(id) ON DELETE CASCADE,
    epoch            BIGINT NOT NULL,
    signer_id        TEXT NOT NULL,
    record           BLOB NOT NULL,        -- 0x0A
    created_ms       BIGINT NOT NULL,
    PRIMARY KEY (relationship_id, epoch)
);
