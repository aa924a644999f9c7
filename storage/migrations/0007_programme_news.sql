-- visitbot: foreign_keys off
-- The news moves the programme (issue 14). The runner turns foreign keys off for this migration
-- (alerts is rebuilt for its new kind, which would otherwise cascade into deliveries) and checks
-- them afterwards.
--
-- * agenda items know how the news names them (events, match: from the visit file) and what the
--   news says of them (status: under way or done "as reported", with the story; or set by an
--   admin, which the feeds never override);
-- * programme_news: what each programme story did: marked an item, or proposes a change or a
--   new item for admins to confirm (review), and the alert it raised;
-- * alerts of kind 'programme' are the feed-driven ones; a chat can turn them off (feed_agenda)
--   and keep the admin-confirmed agenda alerts.

ALTER TABLE agenda_items ADD COLUMN events TEXT NOT NULL DEFAULT '[]';  -- JSON list of kinds
ALTER TABLE agenda_items ADD COLUMN match TEXT NOT NULL DEFAULT '{}';   -- JSON {"en": [...]}
ALTER TABLE agenda_items ADD COLUMN status TEXT NOT NULL DEFAULT 'scheduled'
    CHECK (status IN ('scheduled', 'underway', 'done'));
ALTER TABLE agenda_items ADD COLUMN status_origin TEXT CHECK (status_origin IN ('feeds', 'admin'));
ALTER TABLE agenda_items ADD COLUMN status_story_id INTEGER REFERENCES stories(id) ON DELETE SET NULL;
ALTER TABLE agenda_items ADD COLUMN status_at TEXT;

CREATE TABLE programme_news (
    story_id      INTEGER PRIMARY KEY REFERENCES stories(id) ON DELETE CASCADE,
    visit_id      INTEGER NOT NULL REFERENCES visits(id) ON DELETE CASCADE,
    item_id       INTEGER REFERENCES agenda_items(id) ON DELETE SET NULL,
    effect        TEXT NOT NULL
                  CHECK (effect IN ('announced', 'underway', 'done', 'moved', 'cancelled', 'new')),
    events        TEXT NOT NULL DEFAULT '[]',        -- the kinds the story names
    proposed_day  TEXT,                              -- YYYY-MM-DD, local to the visit
    proposed_time TEXT,                              -- HH:MM, local; NULL: not said
    day_said      INTEGER NOT NULL DEFAULT 0,        -- 1: the story gives the day itself
    lang          TEXT NOT NULL DEFAULT '',          -- the language of its first report
    review        TEXT NOT NULL DEFAULT 'none'
                  CHECK (review IN ('none', 'pending', 'confirmed', 'dismissed')),
    reviewed_by   INTEGER,
    reviewed_at   TEXT,
    alert_id      INTEGER REFERENCES alerts(id) ON DELETE SET NULL,
    created_at    TEXT NOT NULL
);
CREATE INDEX programme_news_by_review ON programme_news (visit_id, review);
CREATE INDEX programme_news_by_item ON programme_news (item_id, effect);

ALTER TABLE chats ADD COLUMN feed_agenda INTEGER NOT NULL DEFAULT 1;

CREATE TABLE alerts_with_programme (
    id            INTEGER PRIMARY KEY,
    visit_id      INTEGER NOT NULL REFERENCES visits(id) ON DELETE CASCADE,
    kind          TEXT NOT NULL CHECK (kind IN ('agreement', 'agenda', 'reminder', 'broadcast',
                                                'correction', 'programme')),
    dedupe_key    TEXT UNIQUE,
    payload       TEXT NOT NULL,
    created_by    INTEGER,
    created_at    TEXT NOT NULL
);
INSERT INTO alerts_with_programme (id, visit_id, kind, dedupe_key, payload, created_by, created_at)
SELECT id, visit_id, kind, dedupe_key, payload, created_by, created_at FROM alerts;
DROP TABLE alerts;
ALTER TABLE alerts_with_programme RENAME TO alerts;
