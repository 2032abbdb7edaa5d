-- A rollback is a new history entry that restores an earlier one: `restores` names that entry (the
-- operator's own assignment, never another rollback), so a further rollback steps back from there.
ALTER TABLE assignments ADD COLUMN restores INTEGER REFERENCES assignments(id);
