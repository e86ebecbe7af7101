-- Listing performance (docs/INDEXES.md, docs/PERFORMANCE.md): sort-key indexes for the marketplace, a
-- facet count table so list totals cost a few rows instead of a count of every match, and a search index
-- that carries each pitch's scope so a search is counted and ranked without touching the pitches table.

-- 1. Marketplace sort keys that had no index (sort=likes, views, ndas, title, budget): without them a
--    sorted page sorts every listed pitch.
CREATE INDEX IF NOT EXISTS pitches_market_likes_idx ON pitches (like_count DESC, id DESC)
    WHERE status = 'published' AND visibility IN ('public', 'investors_only');
CREATE INDEX IF NOT EXISTS pitches_market_views_idx ON pitches (view_count DESC, id DESC)
    WHERE status = 'published' AND visibility IN ('public', 'investors_only');
CREATE INDEX IF NOT EXISTS pitches_market_ndas_idx ON pitches (nda_count DESC, id DESC)
    WHERE status = 'published' AND visibility IN ('public', 'investors_only');
CREATE INDEX IF NOT EXISTS pitches_market_title_idx ON pitches (title, id)
    WHERE status = 'published' AND visibility IN ('public', 'investors_only');
-- Budgets sort with the pitches that have none last, in both directions: SQLite indexes cannot say NULLS
-- LAST, so the order and the indexes lead with `estimated_budget IS NULL`.
CREATE INDEX IF NOT EXISTS pitches_market_budget_asc_idx ON pitches (estimated_budget IS NULL, estimated_budget, id)
    WHERE status = 'published' AND visibility IN ('public', 'investors_only');
CREATE INDEX IF NOT EXISTS pitches_market_budget_desc_idx ON pitches (estimated_budget IS NULL, estimated_budget DESC, id DESC)
    WHERE status = 'published' AND visibility IN ('public', 'investors_only');

-- Totals of the time-windowed tabs (trending: 90 days, new: 30 days) with filters: every filtered column in
-- one index, so a count reads index entries only instead of looking up each pitch in the window. The store
-- names it (INDEXED BY) for those counts; SQLite's planner would rather take a filter's own index.
CREATE INDEX IF NOT EXISTS pitches_market_window_idx
    ON pitches (published_at, format, production_stage, estimated_budget, budget_range, genre)
    WHERE status = 'published' AND visibility IN ('public', 'investors_only');

-- 2. Facet counts: how many published pitches share each combination of visibility, genre, format, stage
--    and budget band. A list total with only these filters (the browse filters) is a sum over a few rows;
--    the raw `budget_range` filter is not among them and is counted from the pitches. An absent format is
--    stored as '' (never a filter value). `budget_band` is the band of `estimated_budget` between the budget
--    filter's boundaries (pitchey_core::catalog::BUDGET_BAND_BOUNDS): -2 none, -1 negative, 0 under $1M ...
--    6 $100M and over. One more row per visibility, with genre, format and stage '*' and band -9, holds the
--    visibility's total, so an unfiltered total reads one row per visibility rather than every combination.
ALTER TABLE pitches ADD COLUMN budget_band INTEGER GENERATED ALWAYS AS (
    CASE WHEN estimated_budget IS NULL THEN -2 WHEN estimated_budget < 0 THEN -1
         WHEN estimated_budget < 1000000 THEN 0 WHEN estimated_budget < 5000000 THEN 1
         WHEN estimated_budget < 15000000 THEN 2 WHEN estimated_budget < 30000000 THEN 3
         WHEN estimated_budget < 50000000 THEN 4 WHEN estimated_budget < 100000000 THEN 5 ELSE 6 END
) VIRTUAL;

CREATE TABLE pitch_facets (
    visibility       TEXT    NOT NULL,
    genre            TEXT    NOT NULL,
    format           TEXT    NOT NULL,
    production_stage TEXT    NOT NULL,
    budget_band      INTEGER NOT NULL,
    n                INTEGER NOT NULL,
    PRIMARY KEY (visibility, genre, format, production_stage, budget_band)
) WITHOUT ROWID;

INSERT INTO pitch_facets (visibility, genre, format, production_stage, budget_band, n)
SELECT visibility, genre, coalesce(format, ''), production_stage, budget_band, COUNT(*)
FROM pitches WHERE status = 'published'
GROUP BY 1, 2, 3, 4, 5;
INSERT INTO pitch_facets (visibility, genre, format, production_stage, budget_band, n)
SELECT visibility, '*', '*', '*', -9, COUNT(*) FROM pitches WHERE status = 'published' GROUP BY 1;

CREATE TRIGGER pitch_facets_insert AFTER INSERT ON pitches WHEN new.status = 'published' BEGIN
    INSERT INTO pitch_facets (visibility, genre, format, production_stage, budget_band, n)
    VALUES (new.visibility, new.genre, coalesce(new.format, ''), new.production_stage, new.budget_band, 1),
           (new.visibility, '*', '*', '*', -9, 1)
    ON CONFLICT (visibility, genre, format, production_stage, budget_band) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER pitch_facets_delete AFTER DELETE ON pitches WHEN old.status = 'published' BEGIN
    UPDATE pitch_facets SET n = n - 1
    WHERE visibility = old.visibility
      AND ((genre, format, production_stage, budget_band)
             = (old.genre, coalesce(old.format, ''), old.production_stage, old.budget_band)
           OR (genre, format, production_stage, budget_band) = ('*', '*', '*', -9));
END;

-- Counter bumps (views, likes, NDAs) do not name these columns, so they never fire this trigger.
CREATE TRIGGER pitch_facets_update
AFTER UPDATE OF status, visibility, genre, format, production_stage, estimated_budget ON pitches
WHEN old.status = 'published' OR new.status = 'published' BEGIN
    UPDATE pitch_facets SET n = n - 1
    WHERE old.status = 'published' AND visibility = old.visibility
      AND ((genre, format, production_stage, budget_band)
             = (old.genre, coalesce(old.format, ''), old.production_stage, old.budget_band)
           OR (genre, format, production_stage, budget_band) = ('*', '*', '*', -9));
    INSERT INTO pitch_facets (visibility, genre, format, production_stage, budget_band, n)
    SELECT new.visibility, new.genre, coalesce(new.format, ''), new.production_stage, new.budget_band, 1
    WHERE new.status = 'published'
    UNION ALL
    SELECT new.visibility, '*', '*', '*', -9, 1
    WHERE new.status = 'published'
    ON CONFLICT (visibility, genre, format, production_stage, budget_band) DO UPDATE SET n = n + 1;
END;

-- 3. Search: a contentless FTS5 index (it keeps no copy of the text) whose last column holds the pitch's
--    scope as words: 'published', plus 'market' when listed in the marketplace and 'public' when public.
--    A marketplace search matches `scope : market AND (...)`, so counting and ranking it never reads the
--    wide pitches rows; only the page's rows are joined. It replaces the external-content index of 0002.
DROP TRIGGER pitches_fts_insert;
DROP TRIGGER pitches_fts_delete;
DROP TRIGGER pitches_fts_update;
DROP TABLE pitches_fts;

CREATE VIRTUAL TABLE pitch_search USING fts5(
    title, logline, short_synopsis, genre, format, scope,
    content = '', contentless_delete = 1, tokenize = 'unicode61 remove_diacritics 2'
);

INSERT INTO pitch_search (rowid, title, logline, short_synopsis, genre, format, scope)
SELECT id, title, logline, short_synopsis, genre, format,
       CASE WHEN status <> 'published' THEN ''
            WHEN visibility = 'public' THEN 'published market public'
            WHEN visibility = 'investors_only' THEN 'published market'
            ELSE 'published' END
FROM pitches;

CREATE TRIGGER pitch_search_insert AFTER INSERT ON pitches BEGIN
    INSERT INTO pitch_search (rowid, title, logline, short_synopsis, genre, format, scope)
    VALUES (new.id, new.title, new.logline, new.short_synopsis, new.genre, new.format,
            CASE WHEN new.status <> 'published' THEN ''
                 WHEN new.visibility = 'public' THEN 'published market public'
                 WHEN new.visibility = 'investors_only' THEN 'published market'
                 ELSE 'published' END);
END;
CREATE TRIGGER pitch_search_delete AFTER DELETE ON pitches BEGIN
    DELETE FROM pitch_search WHERE rowid = old.id;
END;
CREATE TRIGGER pitch_search_update
AFTER UPDATE OF title, logline, short_synopsis, genre, format, status, visibility ON pitches BEGIN
    DELETE FROM pitch_search WHERE rowid = old.id;
    INSERT INTO pitch_search (rowid, title, logline, short_synopsis, genre, format, scope)
    VALUES (new.id, new.title, new.logline, new.short_synopsis, new.genre, new.format,
            CASE WHEN new.status <> 'published' THEN ''
                 WHEN new.visibility = 'public' THEN 'published market public'
                 WHEN new.visibility = 'investors_only' THEN 'published market'
                 ELSE 'published' END);
END;
