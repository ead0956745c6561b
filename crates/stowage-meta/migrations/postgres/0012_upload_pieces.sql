-- Where an upload's staged bytes lie in an object store that cannot append
-- (S3: the pieces recorded with the acknowledged offset). Empty for files.
ALTER TABLE uploads ADD COLUMN pieces TEXT NOT NULL DEFAULT '';
