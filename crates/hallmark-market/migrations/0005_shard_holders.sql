-- Which creators proved they hold a shard's bytes by uploading them. A shard is stored once, but
-- a creator may list it in a version only after sending its bytes themselves (deduplication saves
-- storage, never the proof), so no one can publish another creator's shards without having them.
CREATE TABLE shard_holders (
    cid TEXT NOT NULL,
    creator TEXT NOT NULL,
    since BIGINT NOT NULL,
    PRIMARY KEY (cid, creator)
);
INSERT INTO shard_holders (cid, creator, since) SELECT cid, first_creator, stored_at FROM shards;
