-- Attachment streams (0x05 header + STREAM chunks, PROTOCOL.md §9), stored
-- in the database as rows of up to 1 MiB so that every instance on one
-- PostgreSQL serves them and every database backup includes them. An upload
-- is complete only after the uploader says so and the server has checked
-- the stream's length, its header and its SHA-256.
CREATE TABLE attachments (
    relationship_id  TEXT NOT NULL REFERENCES relationships(id) ON DELETE CASCADE,
    attachment_id    TEXT NOT NULL,
    uploader_id      TEXT NOT NULL,
    epoch            BIGINT NOT NULL,        -- the relationship's epoch when the upload began
    length           BIGINT NOT NULL,        -- bytes stored so far
    sha256           BLOB,                   -- set when complete
    created_ms       BIGINT NOT NULL,
    touched_ms       BIGINT NOT NULL,        -- last append: unfinished uploads expire a day after it
    completed_ms     BIGINT,
    PRIMARY KEY (relationship_id, attachment_id)
);

CREATE TABLE attachment_chunks (
    relationship_id  TEXT NOT NULL,
    attachment_id    TEXT NOT NULL,
    idx              BIGINT NOT NULL,
    data             BLOB NOT NULL,
    PRIMARY KEY (relationship_id, attachment_id, idx),
    FOREIGN KEY (relationship_id, attachment_id)
        REFERENCES attachments (relationship_id, attachment_id) ON DELETE CASCADE
);
