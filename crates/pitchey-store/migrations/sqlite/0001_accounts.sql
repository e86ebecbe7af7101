-- Accounts and sessions. Timestamps are RFC 3339 text in UTC (sortable); booleans are 0/1.
CREATE TABLE users (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    email             TEXT    NOT NULL,
    username          TEXT    NOT NULL,
    password_hash     TEXT    NOT NULL,
    user_type         TEXT    NOT NULL CHECK (user_type IN ('creator', 'investor', 'production', 'admin', 'viewer')),
    first_name        TEXT,
    last_name         TEXT,
    bio               TEXT,
    company_name      TEXT,
    profile_image     TEXT,
    location          TEXT,
    website           TEXT,
    phone             TEXT,
    subscription_tier TEXT    NOT NULL DEFAULT 'free',
    email_verified    INTEGER NOT NULL DEFAULT 0,
    company_verified  INTEGER NOT NULL DEFAULT 0,
    is_active         INTEGER NOT NULL DEFAULT 1,
    last_login_at     TEXT,
    created_at        TEXT    NOT NULL,
    updated_at        TEXT    NOT NULL
);
-- Emails are stored lower-cased, so a plain unique index is case-insensitive uniqueness.
CREATE UNIQUE INDEX users_email_key ON users (email);
CREATE UNIQUE INDEX users_username_key ON users (username);
CREATE INDEX users_user_type_idx ON users (user_type);

-- A session is found by the SHA-256 of its cookie token; the token itself is never stored.
CREATE TABLE sessions (
    token_hash  TEXT    PRIMARY KEY,
    id          TEXT    NOT NULL UNIQUE,
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    ip_address  TEXT,
    user_agent  TEXT,
    created_at  TEXT    NOT NULL,
    expires_at  TEXT    NOT NULL
) WITHOUT ROWID;
CREATE INDEX sessions_user_id_idx ON sessions (user_id);
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);
