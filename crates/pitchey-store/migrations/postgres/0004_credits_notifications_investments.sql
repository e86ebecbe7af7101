-- Credits (NDA requests cost credits), notifications, and investments.

CREATE TABLE user_credits (
    user_id         BIGINT      PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    balance         BIGINT      NOT NULL DEFAULT 0 CHECK (balance >= 0),
    total_purchased BIGINT      NOT NULL DEFAULT 0,
    total_used      BIGINT      NOT NULL DEFAULT 0,
    updated_at      TIMESTAMPTZ NOT NULL
);

CREATE TABLE credit_transactions (
    id             BIGSERIAL   PRIMARY KEY,
    user_id        BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    type           TEXT        NOT NULL CHECK (type IN ('purchase', 'usage', 'refund', 'grant')),
    amount         BIGINT      NOT NULL,
    balance_before BIGINT      NOT NULL,
    balance_after  BIGINT      NOT NULL,
    usage_type     TEXT,
    description    TEXT,
    pitch_id       BIGINT,
    nda_id         BIGINT,
    created_at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX credit_transactions_user_idx ON credit_transactions (user_id, created_at DESC);

CREATE TABLE notifications (
    id              BIGSERIAL   PRIMARY KEY,
    user_id         BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    type            TEXT        NOT NULL,
    title           TEXT        NOT NULL,
    message         TEXT        NOT NULL,
    data            JSONB,
    related_id      BIGINT,
    related_type    TEXT,
    related_pitch_id BIGINT,
    from_user_id    BIGINT      REFERENCES users (id) ON DELETE SET NULL,
    priority        TEXT        NOT NULL DEFAULT 'normal',
    is_read         BOOLEAN     NOT NULL DEFAULT FALSE,
    read_at         TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX notifications_user_idx ON notifications (user_id, created_at DESC, id DESC);
CREATE INDEX notifications_unread_idx ON notifications (user_id) WHERE is_read = FALSE;

CREATE TABLE investments (
    id             BIGSERIAL        PRIMARY KEY,
    investor_id    BIGINT           NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    pitch_id       BIGINT           NOT NULL REFERENCES pitches (id) ON DELETE CASCADE,
    amount         DOUBLE PRECISION NOT NULL CHECK (amount > 0),
    status         TEXT             NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'active', 'completed', 'cancelled')),
    roi_percentage DOUBLE PRECISION,
    notes          TEXT,
    invested_at    TIMESTAMPTZ      NOT NULL,
    created_at     TIMESTAMPTZ      NOT NULL
);
CREATE INDEX investments_investor_idx ON investments (investor_id, invested_at DESC);
CREATE INDEX investments_pitch_idx ON investments (pitch_id);
