-- The contract step of migration 0005 (docs/OPERATIONS.md, "Expand, then contract"). Since 0005, search reads
-- `pitch_search`; no code has read `pitches.search_vector` or its GIN index for several releases. They still
-- cost every pitch write four weighted `to_tsvector` calls and a GIN update, and every pitch row about 410
-- bytes (a fifth of its width), which the list and pitch pages read past.
--
-- Dropping the column changes only the catalogue (a brief exclusive lock, no rewrite). Rows written before it
-- keep the dead bytes until they are next updated or the table is rewritten (`VACUUM FULL`, or pg_repack
-- online); rows written after it are narrower at once.
DROP INDEX IF EXISTS pitches_search_idx;
ALTER TABLE pitches DROP COLUMN IF EXISTS search_vector;
