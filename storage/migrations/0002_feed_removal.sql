-- Feeds removed by an admin are kept, marked removed: their entries stay as the sources of
-- stories (deleting would cascade to news_items), and a configured feed (FEED_URLS or the visit
-- file) that an admin removed is not brought back by the next start.
ALTER TABLE feeds ADD COLUMN removed_at TEXT;
