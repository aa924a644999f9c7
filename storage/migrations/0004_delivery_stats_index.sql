-- /healthz, /metrics and /stats ask for the last delivery time on every call; without this
-- index that is a scan of every delivery ever sent, under the application's database lock.
CREATE INDEX deliveries_sent ON deliveries (status, sent_at);
