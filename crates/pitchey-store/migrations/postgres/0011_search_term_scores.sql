-- Ranking from the lexeme table. Since the twelfth session `pitch_terms` (0010) also gives searches their
-- rank window: the newest matches of each lexeme, read backwards from its key. Ranking that window still
-- fetched each match's document to compute `ts_rank(document, 'word':*)`: 1,000 key lookups in
-- `pitch_search` per page, then most of a search's time (docs/PERFORMANCE.md, twelfth session).
--
-- `ts_rank` (normalization 0) of a query with one operand is a sum, over the document's lexemes that the
-- operand matches, of a score that depends only on that lexeme's positions and weights. When a word's prefix
-- reaches one lexeme, the rank is that lexeme's score, which is `ts_rank(document, 'lexeme')` for the exact
-- lexeme: computed by PostgreSQL itself here, so the stored value and the live rank are the same float. The
-- key carries it, and a one-word search then ranks its window without reading a document.

SET LOCAL statement_timeout = 0;

-- The query matching exactly `lexeme` (no prefix, no parsing): the lexeme quoted as tsquery input quotes
-- (backslashes and quotes doubled). The backslash is `chr(92)`: a function body is parsed again with the
-- caller's settings, and a backslash in a string literal means something else to a session with
-- `standard_conforming_strings` off.
CREATE FUNCTION pitch_term_query(lexeme text) RETURNS tsquery LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT ('''' || replace(replace(lexeme, chr(92), chr(92) || chr(92)), '''', '''''') || '''')::tsquery
$$;

-- Refilled rather than updated: an update of every row would leave the table and its key twice their size.
ALTER TABLE pitch_terms DROP CONSTRAINT pitch_terms_pkey;
TRUNCATE pitch_terms;
ALTER TABLE pitch_terms ADD COLUMN score REAL NOT NULL;

CREATE OR REPLACE FUNCTION pitch_terms_sync() RETURNS trigger LANGUAGE plpgsql AS $$
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
        INSERT INTO pitch_terms (lexeme, pitch_id, is_published, is_market, is_public, score)
        SELECT l, NEW.pitch_id, NEW.is_published, NEW.is_market, NEW.is_public,
               ts_rank(NEW.document, pitch_term_query(l))
        FROM unnest(tsvector_to_array(NEW.document)) AS l;
    END IF;
    RETURN NULL;
END
$$;

INSERT INTO pitch_terms (lexeme, pitch_id, is_published, is_market, is_public, score)
SELECT l, s.pitch_id, s.is_published, s.is_market, s.is_public, ts_rank(s.document, pitch_term_query(l))
FROM pitch_search s, unnest(tsvector_to_array(s.document)) AS l;

ALTER TABLE pitch_terms ADD PRIMARY KEY (lexeme, pitch_id) INCLUDE (is_published, is_market, is_public, score);

ANALYZE pitch_terms;
