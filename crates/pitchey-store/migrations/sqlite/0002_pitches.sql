-- Pitches. Columns under "protected" are shown only to the owner or to a viewer with an approved or
-- signed NDA; the store reads them only through the protected-fields query.
CREATE TABLE pitches (
    id                      INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id                 INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title                   TEXT    NOT NULL,
    logline                 TEXT    NOT NULL,
    tagline                 TEXT,
    genre                   TEXT    NOT NULL,
    format                  TEXT,
    format_category         TEXT,
    format_subtype          TEXT,
    custom_format           TEXT,
    short_synopsis          TEXT,
    long_synopsis           TEXT,
    opener                  TEXT,
    premise                 TEXT,
    target_audience         TEXT,
    characters              TEXT,             -- JSON array
    themes                  TEXT,
    world_description       TEXT,
    episode_breakdown       TEXT,             -- JSON array
    tone_and_style          TEXT,
    comps                   TEXT,
    story_breakdown         TEXT,
    why_now                 TEXT,
    production_location     TEXT,
    development_stage       TEXT,
    development_stage_other TEXT,
    production_stage        TEXT    NOT NULL DEFAULT 'concept',
    production_timeline     TEXT,
    budget_range            TEXT,
    budget_bracket          TEXT,
    estimated_budget        REAL,
    seeking_investment      INTEGER NOT NULL DEFAULT 0,
    require_nda             INTEGER NOT NULL DEFAULT 0,
    title_image             TEXT,
    thumbnail_url           TEXT,
    poster_url              TEXT,
    lookbook_url            TEXT,
    pitch_deck_url          TEXT,
    script_url              TEXT,
    trailer_url             TEXT,
    video_url               TEXT,
    video_platform          TEXT,
    additional_media        TEXT,             -- JSON array
    visibility_settings     TEXT,             -- JSON object
    ai_used                 INTEGER NOT NULL DEFAULT 0,
    -- protected
    video_password          TEXT,
    budget_breakdown        TEXT,             -- JSON
    attached_talent         TEXT,             -- JSON
    financial_projections   TEXT,             -- JSON
    distribution_plan       TEXT,
    marketing_strategy      TEXT,
    revenue_model           TEXT,
    private_attachments     TEXT,             -- JSON
    contact_details         TEXT,             -- JSON
    -- lifecycle and counters
    status                  TEXT    NOT NULL DEFAULT 'draft'
                                    CHECK (status IN ('draft', 'under_review', 'published', 'archived', 'hidden')),
    visibility              TEXT    NOT NULL DEFAULT 'private'
                                    CHECK (visibility IN ('private', 'public', 'investors_only')),
    published_at            TEXT,
    view_count              INTEGER NOT NULL DEFAULT 0,
    like_count              INTEGER NOT NULL DEFAULT 0,
    nda_count               INTEGER NOT NULL DEFAULT 0,
    save_count              INTEGER NOT NULL DEFAULT 0,
    created_at              TEXT    NOT NULL,
    updated_at              TEXT    NOT NULL
);

-- Full-text search: an external-content FTS5 index kept in step by triggers. The update trigger fires only
-- when an indexed column changes, so counter bumps do not rewrite the index.
CREATE VIRTUAL TABLE pitches_fts USING fts5(
    title, logline, short_synopsis, genre, format,
    content = 'pitches', content_rowid = 'id', tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER pitches_fts_insert AFTER INSERT ON pitches BEGIN
    INSERT INTO pitches_fts (rowid, title, logline, short_synopsis, genre, format)
    VALUES (new.id, new.title, new.logline, new.short_synopsis, new.genre, new.format);
END;
CREATE TRIGGER pitches_fts_delete AFTER DELETE ON pitches BEGIN
    INSERT INTO pitches_fts (pitches_fts, rowid, title, logline, short_synopsis, genre, format)
    VALUES ('delete', old.id, old.title, old.logline, old.short_synopsis, old.genre, old.format);
END;
CREATE TRIGGER pitches_fts_update AFTER UPDATE OF title, logline, short_synopsis, genre, format ON pitches BEGIN
    INSERT INTO pitches_fts (pitches_fts, rowid, title, logline, short_synopsis, genre, format)
    VALUES ('delete', old.id, old.title, old.logline, old.short_synopsis, old.genre, old.format);
    INSERT INTO pitches_fts (rowid, title, logline, short_synopsis, genre, format)
    VALUES (new.id, new.title, new.logline, new.short_synopsis, new.genre, new.format);
END;

-- Owner's list ("my pitches").
CREATE INDEX pitches_owner_idx ON pitches (user_id, updated_at DESC);
