-- Updates from Telegram (a getUpdates answer, a webhook POST) are written here before Telegram
-- learns that they arrived, and marked handled once the bot processed them, so a restart handles
-- what a crash interrupted (bot/inbox.py). Handled rows stay briefly, to recognise an update
-- Telegram sends again, and are then pruned.
CREATE TABLE update_inbox (
    update_id INTEGER PRIMARY KEY,
    payload TEXT NOT NULL,              -- the update as Telegram sent it (JSON)
    received_at TEXT NOT NULL,
    replays INTEGER NOT NULL DEFAULT 0, -- start-ups that fed it back in (a poison update stops)
    handled_at TEXT
);
CREATE INDEX update_inbox_pending ON update_inbox (handled_at, update_id);
