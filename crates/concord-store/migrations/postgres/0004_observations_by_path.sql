-- Incremental reads forget and look up a source's observations by file.
CREATE INDEX observations_by_path ON observations (source, path);
