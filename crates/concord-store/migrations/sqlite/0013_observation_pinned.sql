-- Why an item's status cannot be edited in place, if it cannot (a YAML
-- anchor that an alias repeats), so incremental reads that take unchanged
-- files from the hub still hold such an item instead of planning a write.
ALTER TABLE observations ADD COLUMN pinned TEXT;
