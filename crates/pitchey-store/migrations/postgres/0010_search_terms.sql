-- Search counts without reading the search rows. Counting the pitches a word matches through the GIN index
-- visits every match's `pitch_search` row (this PostgreSQL never skips heap pages in a bitmap scan), about
-- 1.4 µs a match: 20 ms for "drama" (14,000 matches of 100,000). The same count over a btree of
-- (lexeme, pitch) is an index-only scan, about 0.3 µs a match (docs/PERFORMANCE.md, eleventh session).
--
-- One row per lexeme of each pitch's search document, with the document's scope flags, kept by a trigger on
-- `pitch_search`. Only counts read it; matching and ranking still go through the GIN index. Index-only scans
-- need the visibility map: autovacuum keeps it, and `pitchey seed` vacuums after a bulk load.

-- Filling the table from a large catalogue outlasts the serving limit the migrator's connection has
-- (100,000 pitches: 2.8 million rows, about 10 s). Migrations run in a transaction; this lasts for it.
SET LOCAL statement_timeout = 0;

CREATE TABLE pitch_terms (
    lexeme       TEXT COLLATE "C" NOT NULL,
    pitch_id     BIGINT  NOT NULL,
    is_published BOOLEAN NOT NULL,
    is_market    BOOLEAN NOT NULL,
    is_public    BOOLEAN NOT NULL
);

-- `pitch_search` is written by the `pitches` trigger of 0005, which rewrites a row whenever a searched or
-- scope column is named in an update; most such rewrites change neither the document nor the scope.
CREATE FUNCTION pitch_terms_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.document = OLD.document THEN
        IF (NEW.is_published, NEW.is_market, NEW.is_public)
           IS DISTINCT FROM (OLD.is_published, OLD.is_market, OLD.is_public) THEN
            UPDATE pitch_terms
            SET is_published = NEW.is_published, is_market = NEW.is_market, is_public = NEW.is_public
            WHERE lexeme = ANY (tsvector_to_array(NEW.document)::text[] COLLATE "C") AND pitch_id = NEW.pitch_id;
        END IF;
        RETURN NULL;
    END IF;
    IF TG_OP <> 'INSERT' THEN
        DELETE FROM pitch_terms
        WHERE lexeme = ANY (tsvector_to_array(OLD.document)::text[] COLLATE "C") AND pitch_id = OLD.pitch_id;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        INSERT INTO pitch_terms (lexeme, pitch_id, is_published, is_market, is_public)
        SELECT l, NEW.pitch_id, NEW.is_published, NEW.is_market, NEW.is_public
        FROM unnest(tsvector_to_array(NEW.document)) AS l;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER pitch_terms_sync
AFTER INSERT OR UPDATE OR DELETE ON pitch_search
FOR EACH ROW EXECUTE FUNCTION pitch_terms_sync();

INSERT INTO pitch_terms (lexeme, pitch_id, is_published, is_market, is_public)
SELECT l, s.pitch_id, s.is_published, s.is_market, s.is_public
FROM pitch_search s, unnest(tsvector_to_array(s.document)) AS l;

-- The key after the fill: an index built from sorted rows is about half the size of one grown row by row.
ALTER TABLE pitch_terms ADD PRIMARY KEY (lexeme, pitch_id) INCLUDE (is_published, is_market, is_public);

ANALYZE pitch_terms;
