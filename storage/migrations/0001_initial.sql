-- The whole schema of the first release. Everything a visit owns is keyed by visit_id, so a second
-- visit is data, not code. Times are ISO-8601 UTC text ('2025-11-24T09:00:00+00:00'); dates are
-- 'YYYY-MM-DD' in the visit's time zone.

CREATE TABLE visits (
    id            INTEGER PRIMARY KEY,
    slug          TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    timezone      TEXT NOT NULL,
    starts_on     TEXT NOT NULL,
    ends_on       TEXT NOT NULL,
    content_hash  TEXT NOT NULL,
    loaded_at     TEXT NOT NULL
);

-- One row per fact and language; `key` groups the translations of one statement.
-- Bundled facts have origin 'bundled' and are replaced when the visit file changes;
-- facts added by admins have origin 'admin' and a generated key.
CREATE TABLE facts (
    id            INTEGER PRIMARY KEY,
    visit_id      INTEGER NOT NULL REFERENCES visits(id) ON DELETE CASCADE,
    key           TEXT NOT NULL,
    lang          TEXT NOT NULL,
    topic         TEXT NOT NULL,
    position      INTEGER NOT NULL DEFAULT 0,
    text          TEXT NOT NULL,
    source_title  TEXT NOT NULL DEFAULT '',
    source_url    TEXT,
    origin        TEXT NOT NULL DEFAULT 'bundled' CHECK (origin IN ('bundled', 'admin')),
    created_at    TEXT NOT NULL,
    UNIQUE (visit_id, key, lang)
);
CREATE INDEX facts_topic ON facts (visit_id, topic, position);

-- Full-text index over folded fact text (see storage.textfold); rowid = facts.id.
CREATE VIRTUAL TABLE facts_fts USING fts5 (body, tokenize = 'unicode61 remove_diacritics 2');

CREATE TABLE topics (
    visit_id      INTEGER NOT NULL REFERENCES visits(id) ON DELETE CASCADE,
    key           TEXT NOT NULL,
    position      INTEGER NOT NULL,
    names         TEXT NOT NULL,            -- JSON {"en": ..., "ko": ..., "tr": ...}
    PRIMARY KEY (visit_id, key)
);

CREATE TABLE agenda_items (
    id            INTEGER PRIMARY KEY,
    visit_id      INTEGER NOT NULL REFERENCES visits(id) ON DELETE CASCADE,
    key           TEXT,                     -- bundled items only
    starts_at     TEXT NOT NULL,            -- UTC
    time_known    INTEGER NOT NULL DEFAULT 1,
    title         TEXT NOT NULL,            -- JSON {"en": ..., ...}
    place         TEXT NOT NULL DEFAULT '{}',
    source_title  TEXT NOT NULL DEFAULT '',
    source_url    TEXT,
    origin        TEXT NOT NULL DEFAULT 'bundled' CHECK (origin IN ('bundled', 'admin')),
    created_by    INTEGER,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    deleted_at    TEXT,
    UNIQUE (visit_id, key)
);
CREATE INDEX agenda_by_time ON agenda_items (visit_id, starts_at);

-- A story is one event as reported by one or more feed items, in any language.
CREATE TABLE stories (
    id            INTEGER PRIMARY KEY,
    visit_id      INTEGER NOT NULL REFERENCES visits(id) ON DELETE CASCADE,
    kind          TEXT NOT NULL CHECK (kind IN ('agreement', 'agenda', 'other')),
    title         TEXT NOT NULL,
    sectors       TEXT NOT NULL DEFAULT '[]',    -- JSON list of sector keys
    parties       TEXT NOT NULL DEFAULT '[]',    -- JSON list of anchor keys
    day           TEXT NOT NULL,
    title_terms   TEXT NOT NULL DEFAULT '[]',
    first_seen_at TEXT NOT NULL,
    review        TEXT NOT NULL DEFAULT 'none'
                  CHECK (review IN ('none', 'pending', 'confirmed', 'dismissed')),
    reviewed_by   INTEGER,
    reviewed_at   TEXT
);
CREATE INDEX stories_by_day ON stories (visit_id, kind, day);

CREATE TABLE agreements (
    id            INTEGER PRIMARY KEY,
    visit_id      INTEGER NOT NULL REFERENCES visits(id) ON DELETE CASCADE,
    key           TEXT,                     -- bundled entries only
    title         TEXT NOT NULL,
    sector        TEXT NOT NULL DEFAULT '',
    signed_on     TEXT,
    parties       TEXT NOT NULL DEFAULT '',
    source_title  TEXT NOT NULL DEFAULT '',
    source_url    TEXT,
    status        TEXT NOT NULL CHECK (status IN ('confirmed', 'reported')),
    story_id      INTEGER UNIQUE REFERENCES stories(id) ON DELETE SET NULL,
    origin        TEXT NOT NULL DEFAULT 'bundled' CHECK (origin IN ('bundled', 'admin', 'review')),
    created_by    INTEGER,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    UNIQUE (visit_id, key)
);

-- Chats that talk to the bot or receive alerts, with their preferences.
CREATE TABLE chats (
    chat_id       INTEGER PRIMARY KEY,
    type          TEXT NOT NULL,            -- private, group, supergroup, channel
    title         TEXT NOT NULL DEFAULT '',
    language      TEXT,                     -- NULL: from the user's Telegram language_code
    timezone      TEXT,                     -- NULL: the visit's time zone
    quiet_start   INTEGER,                  -- minutes after local midnight
    quiet_end     INTEGER,
    digest_hour   INTEGER,                  -- NULL: instant alerts
    active        INTEGER NOT NULL DEFAULT 1,
    inactive_reason TEXT,
    migrated_to   INTEGER,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);

CREATE TABLE users (
    user_id       INTEGER PRIMARY KEY,
    language      TEXT,                     -- chosen with /language; NULL: Telegram's language_code
    language_code TEXT,                     -- last seen from Telegram
    first_seen_at TEXT NOT NULL,
    last_seen_at  TEXT NOT NULL
);

CREATE TABLE subscriptions (
    visit_id      INTEGER NOT NULL REFERENCES visits(id) ON DELETE CASCADE,
    chat_id       INTEGER NOT NULL REFERENCES chats(chat_id) ON UPDATE CASCADE ON DELETE CASCADE,
    wants_agreements INTEGER NOT NULL DEFAULT 1,
    wants_agenda  INTEGER NOT NULL DEFAULT 1,
    set_by        INTEGER,                  -- user who subscribed (groups use their language)
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    PRIMARY KEY (visit_id, chat_id)
);

CREATE TABLE admins (
    user_id       INTEGER PRIMARY KEY,
    added_by      INTEGER,
    added_at      TEXT NOT NULL
);

CREATE TABLE feeds (
    id            INTEGER PRIMARY KEY,
    visit_id      INTEGER NOT NULL REFERENCES visits(id) ON DELETE CASCADE,
    url           TEXT NOT NULL,
    title         TEXT NOT NULL DEFAULT '',
    origin        TEXT NOT NULL DEFAULT 'default' CHECK (origin IN ('default', 'env', 'admin')),
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
    created_at    TEXT NOT NULL,
    UNIQUE (visit_id, url)
);

-- Every entry ever seen, relevant or not, so nothing is processed twice.
CREATE TABLE news_items (
    id            INTEGER PRIMARY KEY,
    feed_id       INTEGER NOT NULL REFERENCES feeds(id) ON DELETE CASCADE,
    entry_id      TEXT NOT NULL,
    title         TEXT NOT NULL,
    link          TEXT,
    published_at  TEXT,
    lang          TEXT NOT NULL DEFAULT 'en',
    relevant      INTEGER NOT NULL DEFAULT 0,
    kind          TEXT NOT NULL DEFAULT 'other',
    sectors       TEXT NOT NULL DEFAULT '[]',
    reason        TEXT NOT NULL DEFAULT '',
    story_id      INTEGER REFERENCES stories(id) ON DELETE SET NULL,
    seen_at       TEXT NOT NULL,
    UNIQUE (feed_id, entry_id)
);
CREATE INDEX news_by_story ON news_items (story_id);

-- Transactional outbox: an alert and one delivery per target chat are written together.
CREATE TABLE alerts (
    id            INTEGER PRIMARY KEY,
    visit_id      INTEGER NOT NULL REFERENCES visits(id) ON DELETE CASCADE,
    kind          TEXT NOT NULL CHECK (kind IN ('agreement', 'agenda', 'reminder', 'broadcast', 'correction')),
    dedupe_key    TEXT UNIQUE,              -- e.g. 'reminder:42:2025-11-24T06:00' so it fires once
    payload       TEXT NOT NULL,            -- JSON, rendered per chat at send time
    created_by    INTEGER,
    created_at    TEXT NOT NULL
);

CREATE TABLE deliveries (
    id            INTEGER PRIMARY KEY,
    alert_id      INTEGER NOT NULL REFERENCES alerts(id) ON DELETE CASCADE,
    chat_id       INTEGER NOT NULL,
    status        TEXT NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'dropped')),
    attempts      INTEGER NOT NULL DEFAULT 0,
    not_before    TEXT NOT NULL,            -- quiet hours, digests and retries push this forward
    last_error    TEXT,
    message_id    INTEGER,
    sent_at       TEXT,
    UNIQUE (alert_id, chat_id)
);
CREATE INDEX deliveries_due ON deliveries (status, not_before);

CREATE TABLE audit_log (
    id            INTEGER PRIMARY KEY,
    visit_id      INTEGER REFERENCES visits(id) ON DELETE SET NULL,
    actor_id      INTEGER,
    action        TEXT NOT NULL,
    target        TEXT NOT NULL DEFAULT '',
    before        TEXT,                     -- JSON or NULL
    after         TEXT,
    at            TEXT NOT NULL
);

-- Small key/value state that must survive restarts (e.g. last error notice to admins).
CREATE TABLE kv (
    key           TEXT PRIMARY KEY,
    value         TEXT NOT NULL
);
