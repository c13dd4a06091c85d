-- Notes are listed newest first by id (time-ordered), with the id as the cursor: the index
-- follows that order, so a page reads its rows and no more.
DROP INDEX notes_by_resident;
CREATE INDEX notes_by_resident ON notes (tenant_id, resident_id, id DESC);
