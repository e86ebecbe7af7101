-- Engagement (views, likes, saves, follows), NDAs, and the indexes behind the hot read paths.
-- docs/INDEXES.md lists each hot query and the index that serves it.

CREATE TABLE views (
    id         BIGSERIAL   PRIMARY KEY,
    pitch_id   BIGINT      NOT NULL REFERENCES pitches (id) ON DELETE CASCADE,
    user_id    BIGINT      REFERENCES users (id) ON DELETE SET NULL,
    anon_key   TEXT,                         -- session header or client address, for anonymous viewers
    viewed_at  TIMESTAMPTZ NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
-- Signed-in viewers count once per pitch; anonymous ones once per key per 24 hours.
CREATE UNIQUE INDEX views_user_pitch_key ON views (user_id, pitch_id) WHERE user_id IS NOT NULL;
CREATE INDEX views_anon_idx ON views (pitch_id, anon_key, viewed_at) WHERE user_id IS NULL;

CREATE TABLE likes (
    user_id    BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    pitch_id   BIGINT      NOT NULL REFERENCES pitches (id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (user_id, pitch_id)
);
CREATE INDEX likes_pitch_idx ON likes (pitch_id);

CREATE TABLE saved_pitches (
    id         BIGSERIAL   PRIMARY KEY,
    user_id    BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    pitch_id   BIGINT      NOT NULL REFERENCES pitches (id) ON DELETE CASCADE,
    notes      TEXT,
    saved_at   TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX saved_pitches_user_pitch_key ON saved_pitches (user_id, pitch_id);
CREATE INDEX saved_pitches_user_saved_idx ON saved_pitches (user_id, saved_at DESC);
CREATE INDEX saved_pitches_pitch_idx ON saved_pitches (pitch_id);

CREATE TABLE follows (
    follower_id  BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    following_id BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (follower_id, following_id),
    CHECK (follower_id <> following_id)
);
CREATE INDEX follows_following_idx ON follows (following_id, created_at DESC);

CREATE TABLE pitch_follows (
    user_id    BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    pitch_id   BIGINT      NOT NULL REFERENCES pitches (id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (user_id, pitch_id)
);

-- One table holds an NDA from request to signature (the original split it across two).
CREATE TABLE ndas (
    id                BIGSERIAL   PRIMARY KEY,
    pitch_id          BIGINT      NOT NULL REFERENCES pitches (id) ON DELETE CASCADE,
    requester_id      BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    owner_id          BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    status            TEXT        NOT NULL DEFAULT 'pending'
                                  CHECK (status IN ('pending', 'approved', 'rejected', 'signed', 'expired', 'revoked')),
    nda_type          TEXT        NOT NULL DEFAULT 'basic',
    message           TEXT,
    company_info      JSONB,
    custom_terms      TEXT,
    expiry_days       BIGINT,
    expires_at        TIMESTAMPTZ,
    approved_at       TIMESTAMPTZ,
    approved_by       BIGINT,
    rejected_at       TIMESTAMPTZ,
    rejection_reason  TEXT,
    signed_at         TIMESTAMPTZ,
    signature_data    JSONB,
    revoked_at        TIMESTAMPTZ,
    revocation_reason TEXT,
    credits_used      BIGINT      NOT NULL DEFAULT 0,
    created_at        TIMESTAMPTZ NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL
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
-- Prefix and typo-tolerant title suggestions.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX pitches_title_trgm_idx ON pitches USING GIN (title gin_trgm_ops);
