-- `INSERT OR REPLACE` deletes the row it replaces without firing a delete
-- trigger, so the append-only tables also refuse an insert onto an
-- existing row.
CREATE TRIGGER journal_no_replace BEFORE INSERT ON journal
WHEN NEW.id IS NOT NULL AND EXISTS (SELECT 1 FROM journal WHERE id = NEW.id)
BEGIN SELECT RAISE(ABORT, 'the journal is append-only'); END;
CREATE TRIGGER release_steps_no_replace BEFORE INSERT ON release_steps
WHEN EXISTS (SELECT 1 FROM release_steps WHERE train_id = NEW.train_id AND seq = NEW.seq)
BEGIN SELECT RAISE(ABORT, 'release steps are append-only'); END;
