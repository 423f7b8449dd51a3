-- hallmark transparency log, PostgreSQL schema v1.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE entries (
    idx             BIGINT PRIMARY KEY,
    leaf_hash       BYTEA NOT NULL UNIQUE,
    body            BYTEA NOT NULL,
    integrated_time BIGINT NOT NULL,
    set_sig         BYTEA NOT NULL
);
CREATE TABLE hashes (
    idx  BIGINT PRIMARY KEY,
    hash BYTEA NOT NULL
);
CREATE TABLE checkpoints (
    size    BIGINT PRIMARY KEY,
    root    BYTEA NOT NULL,
    note    TEXT NOT NULL,
    created BIGINT NOT NULL
);
-- Requests from server processes that are not the sequencer.
CREATE TABLE queue (
    id        BIGSERIAL PRIMARY KEY,
    leaf_hash BYTEA NOT NULL,
    body      BYTEA NOT NULL,
    log_index BIGINT,
    duplicate BOOLEAN,
    created   TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX queue_pending ON queue (id) WHERE log_index IS NULL;
