-- Credits (NDA requests cost credits), notifications, and investments.

CREATE TABLE user_credits (
    user_id         INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    balance         INTEGER NOT NULL DEFAULT 0 CHECK (balance >= 0),
    total_purchased INTEGER NOT NULL DEFAULT 0,
    total_used      INTEGER NOT NULL DEFAULT 0,
    updated_at      TEXT    NOT NULL
);

CREATE TABLE credit_transactions (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id        INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    type           TEXT    NOT NULL CHECK (type IN ('purchase', 'usage', 'refund', 'grant')),
    amount         INTEGER NOT NULL,
    balance_before INTEGER NOT NULL,
    balance_after  INTEGER NOT NULL,
    usage_type     TEXT,
    description    TEXT,
    pitch_id       INTEGER,
    nda_id         INTEGER,
    created_at     TEXT    NOT NULL
);
CREATE INDEX credit_transactions_user_idx ON credit_transactions (user_id, created_at DESC);

CREATE TABLE notifications (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id         INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    type            TEXT    NOT NULL,
    title           TEXT    NOT NULL,
    message         TEXT    NOT NULL,
    data            TEXT,                   -- JSON
    related_id      INTEGER,
    related_type    TEXT,
    related_pitch_id INTEGER,
    from_user_id    INTEGER REFERENCES users (id) ON DELETE SET NULL,
    priority        TEXT    NOT NULL DEFAULT 'normal',
    is_read         INTEGER NOT NULL DEFAULT 0,
    read_at         TEXT,
    created_at      TEXT    NOT NULL
);
CREATE INDEX notifications_user_idx ON notifications (user_id, created_at DESC, id DESC);
CREATE INDEX notifications_unread_idx ON notifications (user_id) WHERE is_read = FALSE;

CREATE TABLE investments (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    investor_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    pitch_id       INTEGER NOT NULL REFERENCES pitches (id) ON DELETE CASCADE,
    amount         REAL    NOT NULL CHECK (amount > 0),
    status         TEXT    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'active', 'completed', 'cancelled')),
    roi_percentage REAL,
    notes          TEXT,
    invested_at    TEXT    NOT NULL,
    created_at     TEXT    NOT NULL
);
CREATE INDEX investments_investor_idx ON investments (investor_id, invested_at DESC);
CREATE INDEX investments_pitch_idx ON investments (pitch_id);
