-- Listing performance (docs/INDEXES.md, docs/PERFORMANCE.md): sort-key indexes for the marketplace, a
-- facet count table so list totals cost a few rows instead of a count of every match, and a narrow search
-- table so a search is counted and ranked without reading the wide pitches rows. Indexes are created IF NOT
-- EXISTS, so on a large database they can be built beforehand with CREATE INDEX CONCURRENTLY under the same
-- names (docs/OPERATIONS.md).

-- 1. Marketplace sort keys that had no index (sort=likes, views, ndas, title, budget).
CREATE INDEX IF NOT EXISTS pitches_market_likes_idx ON pitches (like_count DESC, id DESC)
    WHERE status = 'published' AND visibility IN ('public', 'investors_only');
CREATE INDEX IF NOT EXISTS pitches_market_views_idx ON pitches (view_count DESC, id DESC)
    WHERE status = 'published' AND visibility IN ('public', 'investors_only');
CREATE INDEX IF NOT EXISTS pitches_market_ndas_idx ON pitches (nda_count DESC, id DESC)
    WHERE status = 'published' AND visibility IN ('public', 'investors_only');
-- Titles order byte-wise (COLLATE "C"), like SQLite's.
CREATE INDEX IF NOT EXISTS pitches_market_title_idx ON pitches (title COLLATE "C", id)
    WHERE status = 'published' AND visibility IN ('public', 'investors_only');
-- Budgets sort with the pitches that have none last in both directions: one index per direction.
CREATE INDEX IF NOT EXISTS pitches_market_budget_asc_idx ON pitches (estimated_budget ASC NULLS LAST, id ASC)
    WHERE status = 'published' AND visibility IN ('public', 'investors_only');
CREATE INDEX IF NOT EXISTS pitches_market_budget_desc_idx ON pitches (estimated_budget DESC NULLS LAST, id DESC)
    WHERE status = 'published' AND visibility IN ('public', 'investors_only');

-- Totals of the time-windowed tabs (trending: 90 days, new: 30 days) with filters: the filtered columns
-- ride along in the index, so a count is an index-only scan of the window.
CREATE INDEX IF NOT EXISTS pitches_market_window_idx ON pitches (published_at)
    INCLUDE (genre, format, production_stage, estimated_budget, budget_range)
    WHERE status = 'published' AND visibility IN ('public', 'investors_only');

-- 2. Facet counts: how many published pitches share each combination of visibility, genre, format, stage
--    and budget band (absent format as ''; `budget_band` as in pitchey_core::catalog::BUDGET_BAND_BOUNDS:
--    -2 none, -1 negative, 0 under $1M ... 6 $100M and over). A list total with only these filters (the
--    browse filters) is a sum over a few rows; the raw `budget_range` filter is counted from the pitches.
--    One more row per visibility, with genre, format and stage '*' and band -9, holds the visibility's
--    total, so an unfiltered total reads one row per visibility rather than every combination.
CREATE FUNCTION pitch_budget_band(e DOUBLE PRECISION) RETURNS INTEGER
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN e IS NULL THEN -2 WHEN e < 0 THEN -1
                WHEN e < 1000000 THEN 0 WHEN e < 5000000 THEN 1 WHEN e < 15000000 THEN 2
                WHEN e < 30000000 THEN 3 WHEN e < 50000000 THEN 4 WHEN e < 100000000 THEN 5 ELSE 6 END
$$;

CREATE TABLE pitch_facets (
    visibility       TEXT    NOT NULL,
    genre            TEXT    NOT NULL,
    format           TEXT    NOT NULL,
    production_stage TEXT    NOT NULL,
    budget_band      INTEGER NOT NULL,
    n                INTEGER NOT NULL,
    PRIMARY KEY (visibility, genre, format, production_stage, budget_band)
);

INSERT INTO pitch_facets (visibility, genre, format, production_stage, budget_band, n)
SELECT visibility, genre, coalesce(format, ''), production_stage, pitch_budget_band(estimated_budget), COUNT(*)
FROM pitches WHERE status = 'published'
GROUP BY 1, 2, 3, 4, 5;
INSERT INTO pitch_facets (visibility, genre, format, production_stage, budget_band, n)
SELECT visibility, '*', '*', '*', -9, COUNT(*) FROM pitches WHERE status = 'published' GROUP BY 1;

CREATE FUNCTION pitch_facets_add(k TEXT[], delta INTEGER) RETURNS void LANGUAGE sql AS $$
    INSERT INTO pitch_facets (visibility, genre, format, production_stage, budget_band, n)
    VALUES (k[1], k[2], k[3], k[4], k[5]::integer, delta)
    ON CONFLICT (visibility, genre, format, production_stage, budget_band)
    DO UPDATE SET n = pitch_facets.n + EXCLUDED.n
$$;

-- Keeps pitch_facets in step: -1 on the old combination and total, +1 on the new ones, netted, and applied
-- in key order so two transactions moving pitches in opposite directions cannot deadlock.
CREATE FUNCTION pitch_facets_sync() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    old_key TEXT[];
    old_total TEXT[];
    new_key TEXT[];
    new_total TEXT[];
    c RECORD;
BEGIN
    IF TG_OP <> 'INSERT' AND OLD.status = 'published' THEN
        old_key := ARRAY[OLD.visibility, OLD.genre, coalesce(OLD.format, ''), OLD.production_stage,
                         pitch_budget_band(OLD.estimated_budget)::text];
        old_total := ARRAY[OLD.visibility, '*', '*', '*', '-9'];
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.status = 'published' THEN
        new_key := ARRAY[NEW.visibility, NEW.genre, coalesce(NEW.format, ''), NEW.production_stage,
                         pitch_budget_band(NEW.estimated_budget)::text];
        new_total := ARRAY[NEW.visibility, '*', '*', '*', '-9'];
    END IF;
    FOR c IN
        SELECT ch.k, SUM(ch.d)::integer AS d
        FROM (VALUES (old_key, -1), (old_total, -1), (new_key, 1), (new_total, 1)) AS ch (k, d)
        WHERE ch.k IS NOT NULL
        GROUP BY ch.k HAVING SUM(ch.d) <> 0
        ORDER BY ch.k
    LOOP
        PERFORM pitch_facets_add(c.k, c.d);
    END LOOP;
    RETURN NULL;
END
$$;

-- Counter bumps (views, likes, NDAs) do not name these columns, so they never fire this trigger.
CREATE TRIGGER pitch_facets_sync
AFTER INSERT OR DELETE OR UPDATE OF status, visibility, genre, format, production_stage, estimated_budget
ON pitches FOR EACH ROW EXECUTE FUNCTION pitch_facets_sync();

-- 3. Search: one narrow row per pitch (its weighted document and its scope), so matching, counting and
--    ranking read ~0.5 kB per match instead of a ~2 kB pitch row. Replaces the generated column of 0002.
CREATE TABLE pitch_search (
    pitch_id     BIGINT  PRIMARY KEY REFERENCES pitches (id) ON DELETE CASCADE,
    is_published BOOLEAN NOT NULL,
    is_market    BOOLEAN NOT NULL,
    is_public    BOOLEAN NOT NULL,
    -- Weighted: title A, logline B, synopsis C, genre and format D.
    document     TSVECTOR NOT NULL
);

CREATE FUNCTION pitch_search_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO pitch_search (pitch_id, is_published, is_market, is_public, document)
    VALUES (
        NEW.id,
        NEW.status = 'published',
        NEW.status = 'published' AND NEW.visibility IN ('public', 'investors_only'),
        NEW.status = 'published' AND NEW.visibility = 'public',
        setweight(to_tsvector('english', coalesce(NEW.title, '')), 'A') ||
        setweight(to_tsvector('english', coalesce(NEW.logline, '')), 'B') ||
        setweight(to_tsvector('english', coalesce(NEW.short_synopsis, '')), 'C') ||
        setweight(to_tsvector('english', coalesce(NEW.genre, '') || ' ' || coalesce(NEW.format, '')), 'D')
    )
    ON CONFLICT (pitch_id) DO UPDATE SET
        is_published = EXCLUDED.is_published, is_market = EXCLUDED.is_market,
        is_public = EXCLUDED.is_public, document = EXCLUDED.document;
    RETURN NULL;
END
$$;

CREATE TRIGGER pitch_search_sync
AFTER INSERT OR UPDATE OF title, logline, short_synopsis, genre, format, status, visibility
ON pitches FOR EACH ROW EXECUTE FUNCTION pitch_search_sync();

INSERT INTO pitch_search (pitch_id, is_published, is_market, is_public, document)
SELECT id, status = 'published', status = 'published' AND visibility IN ('public', 'investors_only'),
       status = 'published' AND visibility = 'public', search_vector
FROM pitches;

CREATE INDEX IF NOT EXISTS pitch_search_document_idx ON pitch_search USING GIN (document);

-- The old generated column `pitches.search_vector` and its index stay until every node runs code that no
-- longer reads them (expand, then contract: docs/OPERATIONS.md); a later migration drops them.
