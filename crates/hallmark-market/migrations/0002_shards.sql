-- Shards the marketplace stores, one row per CID, written only once the bytes in the blob store
-- were hashed and matched (uploads.rs); publishing reads it to check that every shard is here.
CREATE TABLE shards (
    cid TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL,
    size BIGINT NOT NULL,
    stored_at BIGINT NOT NULL,
    -- The creator whose upload stored it first (shards are shared across creators by content).
    first_creator TEXT NOT NULL
);
