-- Accounts and sessions.
CREATE TABLE users (
    id                BIGSERIAL   PRIMARY KEY,
    email             TEXT        NOT NULL,
    username          TEXT        NOT NULL,
    password_hash     TEXT        NOT NULL,
    user_type         TEXT        NOT NULL CHECK (user_type IN ('creator', 'investor', 'production', 'admin', 'viewer')),
    first_name        TEXT,
    last_name         TEXT,
    bio               TEXT,
    company_name      TEXT,
    profile_image     TEXT,
    location          TEXT,
    website           TEXT,
    phone             TEXT,
    subscription_tier TEXT        NOT NULL DEFAULT 'free',
    email_verified    BOOLEAN     NOT NULL DEFAULT FALSE,
    company_verified  BOOLEAN     NOT NULL DEFAULT FALSE,
    is_active         BOOLEAN     NOT NULL DEFAULT TRUE,
    last_login_at     TIMESTAMPTZ,
    created_at        TIMESTAMPTZ NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL
);
-- Emails are stored lower-cased, so a plain unique index is case-insensitive uniqueness.
CREATE UNIQUE INDEX users_email_key ON users (email);
CREATE UNIQUE INDEX users_username_key ON users (username);
CREATE INDEX users_user_type_idx ON users (user_type);

-- A session is found by the SHA-256 of its cookie token; the token itself is never stored.
CREATE TABLE sessions (
    token_hash  TEXT        PRIMARY KEY,
    id          TEXT        NOT NULL UNIQUE,
    user_id     BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    ip_address  TEXT,
    user_agent  TEXT,
    created_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX sessions_user_id_idx ON sessions (user_id);
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);
