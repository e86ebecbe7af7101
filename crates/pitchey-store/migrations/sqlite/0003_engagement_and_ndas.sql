-- Engagement (views, likes, saves, follows), NDAs, and the indexes behind the hot read paths.
-- docs/INDEXES.md lists each hot query and the index that serves it.

CREATE TABLE views (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    pitch_id   INTEGER NOT NULL REFERENCES pitches (id) ON DELETE CASCADE,
    user_id    INTEGER REFERENCES users (id) ON DELETE SET NULL,
    anon_key   TEXT,                         -- session header or client address, for anonymous viewers
    viewed_at  TEXT    NOT NULL,
    created_at TEXT    NOT NULL
);
-- Signed-in viewers count once per pitch; anonymous ones once per key per 24 hours.
CREATE UNIQUE INDEX views_user_pitch_key ON views (user_id, pitch_id) WHERE user_id IS NOT NULL;
CREATE INDEX views_anon_idx ON views (pitch_id, anon_key, viewed_at) WHERE user_id IS NULL;

CREATE TABLE likes (
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    pitch_id   INTEGER NOT NULL REFERENCES pitches (id) ON DELETE CASCADE,
    created_at TEXT    NOT NULL,
    PRIMARY KEY (user_id, pitch_id)
);
CREATE INDEX likes_pitch_idx ON likes (pitch_id);

CREATE TABLE saved_pitches (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    pitch_id   INTEGER NOT NULL REFERENCES pitches (id) ON DELETE CASCADE,
    notes      TEXT,
    saved_at   TEXT    NOT NULL
);
CREATE UNIQUE INDEX saved_pitches_user_pitch_key ON saved_pitches (user_id, pitch_id);
CREATE INDEX saved_pitches_user_saved_idx ON saved_pitches (user_id, saved_at DESC);
CREATE INDEX saved_pitches_pitch_idx ON saved_pitches (pitch_id);

CREATE TABLE follows (
    follower_id  INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    following_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   TEXT    NOT NULL,
    PRIMARY KEY (follower_id, following_id),
    CHECK (follower_id <> following_id)
);
CREATE INDEX follows_following_idx ON follows (following_id, created_at DESC);

CREATE TABLE pitch_follows (
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    pitch_id   INTEGER NOT NULL REFERENCES pitches (id) ON DELETE CASCADE,
    created_at TEXT    NOT NULL,
    PRIMARY KEY (user_id, pitch_id)
);

-- One table holds an NDA from request to signature (the original split it across two).
CREATE TABLE ndas (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    pitch_id          INTEGER NOT NULL REFERENCES pitches (id) ON DELETE CASCADE,
    requester_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    owner_id          INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    status            TEXT    NOT NULL DEFAULT 'pending'
                              CHECK (status IN ('pending', 'approved', 'rejected', 'signed', 'expired', 'revoked')),
    nda_type          TEXT    NOT NULL DEFAULT 'basic',
    message           TEXT,
    company_info      TEXT,                 -- JSON
    custom_terms      TEXT,
    expiry_days       INTEGER,
    expires_at        TEXT,
    approved_at       TEXT,
    approved_by       INTEGER,
    rejected_at       TEXT,
    rejection_reason  TEXT,
    signed_at         TEXT,
    signature_data    TEXT,                 -- JSON
    revoked_at        TEXT,
    revocation_reason TEXT,
    credits_used      INTEGER NOT NULL DEFAULT 0,
    created_at        TEXT    NOT NULL,
    updated_at        TEXT    NOT NULL
);
-- At most one open or granted NDA per requester and pitch; finished ones may be followed by a new request.
CREATE UNIQUE INDEX ndas_open_key ON ndas (pitch_id, requester_id) WHERE status IN ('pending', 'approved', 'signed');
CREATE INDEX ndas_requester_idx ON ndas (requester_id, status, created_at DESC);
CREATE INDEX ndas_owner_idx ON ndas (owner_id, status, created_at DESC);
CREATE INDEX ndas_pitch_requester_idx ON ndas (pitch_id, requester_id, created_at DESC);

-- Marketplace (published, listed) browse orders.
CREATE INDEX pitches_market_score_idx ON pitches ((view_count + 2 * like_count + 5 * nda_count) DESC, id DESC)
    WHERE status = 'published' AND visibility IN ('public', 'investors_only');
CREATE INDEX pitches_market_published_idx ON pitches (published_at DESC, id DESC)
    WHERE status = 'published' AND visibility IN ('public', 'investors_only');
CREATE INDEX pitches_market_updated_idx ON pitches (updated_at DESC, id DESC)
    WHERE status = 'published' AND visibility IN ('public', 'investors_only');
-- Marketplace filters.
CREATE INDEX pitches_market_genre_idx ON pitches (genre, published_at DESC)
    WHERE status = 'published' AND visibility IN ('public', 'investors_only');
CREATE INDEX pitches_market_format_idx ON pitches (format, published_at DESC)
    WHERE status = 'published' AND visibility IN ('public', 'investors_only');
CREATE INDEX pitches_market_stage_idx ON pitches (production_stage, published_at DESC)
    WHERE status = 'published' AND visibility IN ('public', 'investors_only');
CREATE INDEX pitches_market_budget_range_idx ON pitches (budget_range, published_at DESC)
    WHERE status = 'published' AND visibility IN ('public', 'investors_only');
CREATE INDEX pitches_market_budget_idx ON pitches (estimated_budget)
    WHERE status = 'published' AND visibility IN ('public', 'investors_only');
-- Home-page lists (published and public).
CREATE INDEX pitches_public_trending_idx ON pitches ((view_count + 2 * like_count) DESC, id DESC)
    WHERE status = 'published' AND visibility = 'public';
CREATE INDEX pitches_public_featured_idx ON pitches ((view_count + 3 * like_count) DESC, id DESC)
    WHERE status = 'published' AND visibility = 'public';
CREATE INDEX pitches_public_new_idx ON pitches (created_at DESC, id DESC)
    WHERE status = 'published' AND visibility = 'public';
-- Owner's lists by status, and everything published by creation time.
CREATE INDEX pitches_owner_status_idx ON pitches (user_id, status, updated_at DESC);
CREATE INDEX pitches_published_created_idx ON pitches (created_at DESC, id DESC) WHERE status = 'published';
