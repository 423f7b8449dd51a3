-- hallmark trust server (Notary v1 API), SQLite.
CREATE TABLE tuf_files (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    gun TEXT NOT NULL,
    role TEXT NOT NULL,
    version INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    data BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (gun, role, version)
);
CREATE INDEX tuf_files_sha256 ON tuf_files (gun, sha256);

CREATE TABLE server_keys (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    gun TEXT NOT NULL,
    role TEXT NOT NULL,
    key_id TEXT NOT NULL,
    key_type TEXT NOT NULL,
    sealed BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (gun, key_id)
);
CREATE INDEX server_keys_gun ON server_keys (gun, role);

CREATE TABLE changefeed (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    gun TEXT NOT NULL,
    version INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    category TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX changefeed_gun ON changefeed (gun, id);
