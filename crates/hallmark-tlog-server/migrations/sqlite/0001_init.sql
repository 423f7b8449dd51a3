-- hallmark transparency log, SQLite schema v1.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);
CREATE TABLE entries (
    idx             INTEGER PRIMARY KEY NOT NULL,
    leaf_hash       BLOB NOT NULL UNIQUE,
    body            BLOB NOT NULL,
    integrated_time INTEGER NOT NULL,
    set_sig         BLOB NOT NULL
);
CREATE TABLE hashes (
    idx  INTEGER PRIMARY KEY NOT NULL,
    hash BLOB NOT NULL
);
CREATE TABLE checkpoints (
    size    INTEGER PRIMARY KEY NOT NULL,
    root    BLOB NOT NULL,
    note    TEXT NOT NULL,
    created INTEGER NOT NULL
);
