-- Pitches. Columns under "protected" are shown only to the owner or to a viewer with an approved or
-- signed NDA; the store reads them only through the protected-fields query.
CREATE TABLE pitches (
    id                      BIGSERIAL   PRIMARY KEY,
    user_id                 BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title                   TEXT        NOT NULL,
    logline                 TEXT        NOT NULL,
    tagline                 TEXT,
    genre                   TEXT        NOT NULL,
    format                  TEXT,
    format_category         TEXT,
    format_subtype          TEXT,
    custom_format           TEXT,
    short_synopsis          TEXT,
    long_synopsis           TEXT,
    opener                  TEXT,
    premise                 TEXT,
    target_audience         TEXT,
    characters              JSONB,
    themes                  TEXT,
    world_description       TEXT,
    episode_breakdown       JSONB,
    tone_and_style          TEXT,
    comps                   TEXT,
    story_breakdown         TEXT,
    why_now                 TEXT,
    production_location     TEXT,
    development_stage       TEXT,
    development_stage_other TEXT,
    production_stage        TEXT        NOT NULL DEFAULT 'concept',
    production_timeline     TEXT,
    budget_range            TEXT,
    budget_bracket          TEXT,
    estimated_budget        DOUBLE PRECISION,
    seeking_investment      BOOLEAN     NOT NULL DEFAULT FALSE,
    require_nda             BOOLEAN     NOT NULL DEFAULT FALSE,
    title_image             TEXT,
    thumbnail_url           TEXT,
    poster_url              TEXT,
    lookbook_url            TEXT,
    pitch_deck_url          TEXT,
    script_url              TEXT,
    trailer_url             TEXT,
    video_url               TEXT,
    video_platform          TEXT,
    additional_media        JSONB,
    visibility_settings     JSONB,
    ai_used                 BOOLEAN     NOT NULL DEFAULT FALSE,
    -- protected
    video_password          TEXT,
    budget_breakdown        JSONB,
    attached_talent         JSONB,
    financial_projections   JSONB,
    distribution_plan       TEXT,
    marketing_strategy      TEXT,
    revenue_model           TEXT,
    private_attachments     JSONB,
    contact_details         JSONB,
    -- lifecycle and counters
    status                  TEXT        NOT NULL DEFAULT 'draft'
                                        CHECK (status IN ('draft', 'under_review', 'published', 'archived', 'hidden')),
    visibility              TEXT        NOT NULL DEFAULT 'private'
                                        CHECK (visibility IN ('private', 'public', 'investors_only')),
    published_at            TIMESTAMPTZ,
    view_count              BIGINT      NOT NULL DEFAULT 0,
    like_count              BIGINT      NOT NULL DEFAULT 0,
    nda_count               BIGINT      NOT NULL DEFAULT 0,
    save_count              BIGINT      NOT NULL DEFAULT 0,
    created_at              TIMESTAMPTZ NOT NULL,
    updated_at              TIMESTAMPTZ NOT NULL,
    -- Full-text search document, weighted: title A, logline B, synopsis C, genre and format D.
    search_vector           TSVECTOR GENERATED ALWAYS AS (
        setweight(to_tsvector('english', coalesce(title, '')), 'A') ||
        setweight(to_tsvector('english', coalesce(logline, '')), 'B') ||
        setweight(to_tsvector('english', coalesce(short_synopsis, '')), 'C') ||
        setweight(to_tsvector('english', coalesce(genre, '') || ' ' || coalesce(format, '')), 'D')
    ) STORED
);

CREATE INDEX pitches_search_idx ON pitches USING GIN (search_vector);

-- Owner's list ("my pitches").
CREATE INDEX pitches_owner_idx ON pitches (user_id, updated_at DESC);
