-- visitbot: foreign_keys off
-- Several visits side by side. The runner turns foreign keys off for this migration (the feeds
-- table is rebuilt, which would otherwise cascade into news_items) and checks them afterwards.
--
-- * visits remember what readers need to pick one: names per language, languages, trip, window.
-- * A feed is one row per URL, serving every visit it is linked to (feed_visits); the link says
--   how the visit came to it (its file, FEED_URLS, an admin) and whether it was removed there.
-- * A news item counts for at most one visit (news_items.visit_id).
-- * A chat has a current visit (what /facts, /agenda ... answer for), and may follow every visit,
--   future ones included (all_visit_subscriptions), besides per-visit subscriptions.

ALTER TABLE visits ADD COLUMN names TEXT NOT NULL DEFAULT '{}';       -- JSON {"en": ..., ...}
ALTER TABLE visits ADD COLUMN languages TEXT NOT NULL DEFAULT '["en"]';
ALTER TABLE visits ADD COLUMN trip_key TEXT;
ALTER TABLE visits ADD COLUMN tracking_from TEXT;
ALTER TABLE visits ADD COLUMN tracking_until TEXT;
UPDATE visits SET names = json_object('en', name);

CREATE TABLE feeds_by_url (
    id            INTEGER PRIMARY KEY,
    url           TEXT NOT NULL UNIQUE,
    title         TEXT NOT NULL DEFAULT '',
    etag          TEXT,
    last_modified TEXT,
    body_hash     TEXT,
    first_polled_at TEXT,
    last_polled_at TEXT,
    last_success_at TEXT,
    last_error_at TEXT,
    last_error    TEXT,
    first_failure_at TEXT,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    next_poll_at  TEXT,
    paused        INTEGER NOT NULL DEFAULT 0,
    paused_reason TEXT,
    created_at    TEXT NOT NULL
);
-- One row per URL: the oldest row of a URL keeps its id (and its entries).
INSERT INTO feeds_by_url (id, url, title, etag, last_modified, body_hash, first_polled_at,
    last_polled_at, last_success_at, last_error_at, last_error, first_failure_at,
    consecutive_failures, next_poll_at, paused, paused_reason, created_at)
SELECT id, url, title, etag, last_modified, body_hash, first_polled_at, last_polled_at,
    last_success_at, last_error_at, last_error, first_failure_at, consecutive_failures,
    next_poll_at,
    CASE WHEN paused_reason IN ('no longer configured', 'removed') THEN 0 ELSE paused END,
    CASE WHEN paused_reason IN ('no longer configured', 'removed') THEN NULL ELSE paused_reason END,
    created_at
FROM feeds WHERE id IN (SELECT MIN(id) FROM feeds GROUP BY url);

CREATE TABLE feed_visits (
    feed_id       INTEGER NOT NULL REFERENCES feeds(id) ON DELETE CASCADE,
    visit_id      INTEGER NOT NULL REFERENCES visits(id) ON DELETE CASCADE,
    origin        TEXT NOT NULL CHECK (origin IN ('default', 'env', 'admin')),
    removed_at    TEXT,                     -- NULL: the visit uses the feed
    removed_by    TEXT CHECK (removed_by IN ('admin', 'configuration')),
    created_at    TEXT NOT NULL,
    PRIMARY KEY (feed_id, visit_id)
);
INSERT OR IGNORE INTO feed_visits (feed_id, visit_id, origin, removed_at, removed_by, created_at)
SELECT (SELECT MIN(k.id) FROM feeds k WHERE k.url = f.url), f.visit_id, f.origin,
    CASE WHEN f.removed_at IS NOT NULL THEN f.removed_at
         WHEN f.paused_reason = 'no longer configured' THEN f.created_at END,
    CASE WHEN f.removed_at IS NOT NULL THEN 'admin'
         WHEN f.paused_reason = 'no longer configured' THEN 'configuration' END,
    f.created_at
FROM feeds f;

-- Entries of a duplicate URL row move to the kept row (an entry seen by both stays once).
UPDATE OR IGNORE news_items SET feed_id = (
    SELECT MIN(k.id) FROM feeds k WHERE k.url = (SELECT f.url FROM feeds f WHERE f.id = news_items.feed_id)
) WHERE feed_id NOT IN (SELECT id FROM feeds_by_url);
DELETE FROM news_items WHERE feed_id NOT IN (SELECT id FROM feeds_by_url);

DROP TABLE feeds;
ALTER TABLE feeds_by_url RENAME TO feeds;
CREATE INDEX feed_visits_by_visit ON feed_visits (visit_id, feed_id);

ALTER TABLE news_items ADD COLUMN visit_id INTEGER REFERENCES visits(id) ON DELETE SET NULL;
UPDATE news_items SET visit_id = (SELECT s.visit_id FROM stories s WHERE s.id = news_items.story_id)
WHERE story_id IS NOT NULL;
UPDATE news_items SET visit_id = (SELECT MIN(l.visit_id) FROM feed_visits l WHERE l.feed_id = news_items.feed_id)
WHERE visit_id IS NULL AND relevant = 1;

ALTER TABLE chats ADD COLUMN current_visit_id INTEGER REFERENCES visits(id) ON DELETE SET NULL;

CREATE TABLE all_visit_subscriptions (
    chat_id       INTEGER PRIMARY KEY REFERENCES chats(chat_id) ON UPDATE CASCADE ON DELETE CASCADE,
    wants_agreements INTEGER NOT NULL DEFAULT 1,
    wants_agenda  INTEGER NOT NULL DEFAULT 1,
    set_by        INTEGER,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);

CREATE INDEX subscriptions_by_chat ON subscriptions (chat_id);
