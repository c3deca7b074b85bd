-- Signed deletions (PROTOCOL.md §8.7): an author deletes an item with a
-- record signed by their identity key; the server keeps it with the
-- tombstone and serves it, so readers can tell a deletion the author made
-- from one the server only reports. Tombstones from before have none.
ALTER TABLE items ADD COLUMN deletion BLOB;  -- 0x0B
