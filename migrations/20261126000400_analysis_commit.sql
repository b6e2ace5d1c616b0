-- The commit a worker fetched (the branch head it resolved, or the commit asked for).
ALTER TABLE rm_analyses ADD COLUMN git_commit text;
