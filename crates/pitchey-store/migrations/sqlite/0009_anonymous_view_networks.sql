-- Anonymous views also record the viewer's network: the client address, or its /64 for IPv6 (a client is
-- usually given a whole /64). An anonymous view counts once per session header (or address) per pitch per
-- 24 hours, as before, but a network's sessions count at most a few times per pitch per 24 hours: the
-- session header is the client's own choice, so minting a new one per request inflated view counts, which
-- order the trending tab. Rows from before this migration have no network and do not count toward the cap.
ALTER TABLE views ADD COLUMN anon_net TEXT;
CREATE INDEX IF NOT EXISTS views_anon_net_idx ON views (pitch_id, anon_net, viewed_at) WHERE user_id IS NULL;
