-- A note may say which objective of the projet personnalisé it reports on. Objectives live in
-- the sealed content of plan versions, with ids that stay the same from version to version, so
-- the link is an id without a foreign key; it is checked against the plan in force when written.
ALTER TABLE notes ADD COLUMN objective_id uuid;
CREATE INDEX notes_by_objective ON notes (tenant_id, resident_id, objective_id) WHERE objective_id IS NOT NULL;
