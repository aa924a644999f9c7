-- Channels, paid broadcasts and audiences of 100,000 (issue 15).
--
-- * alert_totals: one row per alert with its deliveries counted by status, kept up to date by
--   triggers on deliveries (so every path that changes a status counts, whoever wrote it), the
--   latest send, the paid-broadcast messages billed for it, and how many of its rows compaction
--   removed. /stats and /metrics read these few rows instead of counting a table of millions,
--   and the counts survive compaction (rows are deleted, their counts stay).
-- * channels: a channel's link to the bot: who made the bot an administrator there (Telegram's
--   my_chat_member update names them), who linked it (told when the bot loses the channel),
--   how, and its last post.
-- * indexes: deliveries by chat (deactivating, rescheduling or unsubscribing one chat no longer
--   scans every delivery), and chats whose preferences can hold an alert (quiet hours, a
--   digest), which create_alert schedules one by one while every other chat is due at once.
--   deliveries_sent goes: alert_totals.last_sent_at answers what it was for, and every index on
--   deliveries is paid for on each of a fan-out's 100,000 inserts and status changes.
--
-- A migration that rebuilds the deliveries table must create its triggers again.

CREATE TABLE alert_totals (
    alert_id      INTEGER PRIMARY KEY REFERENCES alerts(id) ON DELETE CASCADE,
    pending       INTEGER NOT NULL DEFAULT 0,
    sending       INTEGER NOT NULL DEFAULT 0,
    sent          INTEGER NOT NULL DEFAULT 0,
    failed        INTEGER NOT NULL DEFAULT 0,
    dropped       INTEGER NOT NULL DEFAULT 0,
    compacted     INTEGER NOT NULL DEFAULT 0,   -- rows deleted by compaction (still counted above)
    last_sent_at  TEXT,
    paid_messages INTEGER NOT NULL DEFAULT 0    -- billed paid-broadcast messages (0.1 Star each)
);

INSERT INTO alert_totals (alert_id, pending, sending, sent, failed, dropped, last_sent_at)
SELECT a.id,
    COALESCE(SUM(d.status = 'pending'), 0), COALESCE(SUM(d.status = 'sending'), 0),
    COALESCE(SUM(d.status = 'sent'), 0), COALESCE(SUM(d.status = 'failed'), 0),
    COALESCE(SUM(d.status = 'dropped'), 0),
    MAX(CASE WHEN d.status = 'sent' THEN d.sent_at END)
FROM alerts a LEFT JOIN deliveries d ON d.alert_id = a.id GROUP BY a.id;

CREATE TRIGGER alert_totals_insert AFTER INSERT ON deliveries BEGIN
    INSERT INTO alert_totals (alert_id, pending, sending, sent, failed, dropped, last_sent_at)
    VALUES (new.alert_id, new.status = 'pending', new.status = 'sending', new.status = 'sent',
        new.status = 'failed', new.status = 'dropped',
        CASE WHEN new.status = 'sent' THEN new.sent_at END)
    ON CONFLICT (alert_id) DO UPDATE SET
        pending = pending + excluded.pending, sending = sending + excluded.sending,
        sent = sent + excluded.sent, failed = failed + excluded.failed,
        dropped = dropped + excluded.dropped,
        last_sent_at = NULLIF(MAX(COALESCE(last_sent_at, ''), COALESCE(excluded.last_sent_at, '')), '');
END;

CREATE TRIGGER alert_totals_update AFTER UPDATE OF status ON deliveries
WHEN old.status IS NOT new.status BEGIN
    UPDATE alert_totals SET
        pending = pending + (new.status = 'pending') - (old.status = 'pending'),
        sending = sending + (new.status = 'sending') - (old.status = 'sending'),
        sent = sent + (new.status = 'sent') - (old.status = 'sent'),
        failed = failed + (new.status = 'failed') - (old.status = 'failed'),
        dropped = dropped + (new.status = 'dropped') - (old.status = 'dropped'),
        last_sent_at = CASE
            WHEN new.status = 'sent' AND new.sent_at IS NOT NULL
                AND (last_sent_at IS NULL OR new.sent_at > last_sent_at)
            THEN new.sent_at ELSE last_sent_at END
    WHERE alert_id = new.alert_id;
END;

CREATE TABLE channels (
    chat_id       INTEGER PRIMARY KEY REFERENCES chats(chat_id) ON UPDATE CASCADE ON DELETE CASCADE,
    username      TEXT,                     -- without the @; NULL for a private channel
    added_by      INTEGER,                  -- who made the bot an administrator (my_chat_member)
    linked_by     INTEGER,                  -- who linked it; told when the bot loses the channel
    linked_via    TEXT CHECK (linked_via IN ('post', 'command')),  -- /subscribe there, /addchannel
    linked_at     TEXT,                     -- NULL: not linked (never, or unlinked)
    last_post_at  TEXT
);

CREATE TRIGGER channels_last_post AFTER UPDATE OF status ON deliveries
WHEN new.status = 'sent' AND new.chat_id < 0 BEGIN
    UPDATE channels SET last_post_at = new.sent_at WHERE chat_id = new.chat_id;
END;

CREATE INDEX deliveries_by_chat ON deliveries (chat_id, status);
CREATE INDEX chats_held ON chats (chat_id) WHERE quiet_start IS NOT NULL OR digest_hour IS NOT NULL;
DROP INDEX deliveries_sent;
