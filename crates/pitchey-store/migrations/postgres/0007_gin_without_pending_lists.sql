-- GIN indexes without a pending list. By default (`fastupdate = on`) a GIN index queues new entries in an
-- unsorted pending list until a vacuum or 4 MB of them, and every search reads the whole list. Worse, the
-- planner counts its pages in the index's cost: measured on 100,000 pitches (docs/PERFORMANCE.md, eighth
-- session), 2,000-4,000 updated pitches left in the list turned the count of "drama" from a 9 ms bitmap
-- scan into a 26 ms sequential scan, and "midnight" from 2.4 ms into 26.6 ms; flushing the list brought
-- both back. Written directly, each pitch edit costs its index entries at once (2,000 edits: 0.26 s).
-- (`pitches_search_idx`, on the old generated column, is read by nothing and left as it is.)
ALTER INDEX pitch_search_document_idx SET (fastupdate = off);
ALTER INDEX pitches_title_trgm_idx SET (fastupdate = off);
SELECT gin_clean_pending_list('pitch_search_document_idx'::regclass);
SELECT gin_clean_pending_list('pitches_title_trgm_idx'::regclass);
