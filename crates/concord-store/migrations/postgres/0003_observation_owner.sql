-- The owner an item names (owned rules), so incremental reads can take it
-- from the hub for files that did not change.
ALTER TABLE observations ADD COLUMN owner TEXT;
