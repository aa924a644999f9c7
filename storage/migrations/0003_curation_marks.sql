-- What admins changed stays changed when a new release of the visit file is loaded:
-- `curated_at` marks bundled rows an admin edited (the file no longer updates them), and
-- `deleted_at` keeps a bundled agreement an admin deleted from coming back.
ALTER TABLE agreements ADD COLUMN curated_at TEXT;
ALTER TABLE agreements ADD COLUMN deleted_at TEXT;
ALTER TABLE agenda_items ADD COLUMN curated_at TEXT;
