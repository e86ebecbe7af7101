-- Prefix indexes for search. Every search word is a prefix query ("drama"* finds "dramatic"), and
-- without a prefix index FTS5 finds one by merging the doclists of every indexed word that starts with
-- it: for the count, for the rank window, and for bm25's document frequencies. With `prefix = '3 ... 10'`
-- FTS5 also indexes each word's first 3, 4, ..., 10 characters, so a query word of 3 to 10 characters
-- reads one doclist. Measured on 100,000 pitches over the load tool's 28 search words (docs/PERFORMANCE.md,
-- eighth session): counts 31% and pages 34% faster, the same results, and an index of 100 MB instead of
-- 26 MB. Words shorter than 3 or longer than 10 characters are searched as before.
-- (0006 stays as it landed; databases that applied it are rebuilt here. The view pitch_search_source
-- of 0006 still says what an index row holds.)
DROP TRIGGER pitch_search_insert;
DROP TRIGGER pitch_search_delete;
DROP TRIGGER pitch_search_update;
DROP TABLE pitch_search;

CREATE VIRTUAL TABLE pitch_search USING fts5(
    title, logline, short_synopsis, genre, format, hidden,
    content = '', contentless_delete = 1, tokenize = 'unicode61 remove_diacritics 2',
    prefix = '3 4 5 6 7 8 9 10'
);

INSERT INTO pitch_search (rowid, title, logline, short_synopsis, genre, format, hidden)
SELECT pitch_id, title, logline, short_synopsis, genre, format, hidden FROM pitch_search_source;

CREATE TRIGGER pitch_search_insert AFTER INSERT ON pitches BEGIN
    INSERT INTO pitch_search (rowid, title, logline, short_synopsis, genre, format, hidden)
    SELECT pitch_id, title, logline, short_synopsis, genre, format, hidden FROM pitch_search_source
    WHERE pitch_id = new.id;
END;
CREATE TRIGGER pitch_search_delete AFTER DELETE ON pitches BEGIN
    DELETE FROM pitch_search WHERE rowid = old.id;
END;
CREATE TRIGGER pitch_search_update
AFTER UPDATE OF title, logline, short_synopsis, genre, format, status, visibility ON pitches BEGIN
    DELETE FROM pitch_search WHERE rowid = old.id;
    INSERT INTO pitch_search (rowid, title, logline, short_synopsis, genre, format, hidden)
    SELECT pitch_id, title, logline, short_synopsis, genre, format, hidden FROM pitch_search_source
    WHERE pitch_id = new.id;
END;
