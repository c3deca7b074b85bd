-- Secrets the server itself needs (the OPAQUE server setup). Never user data.
CREATE TABLE server_secrets (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
