-- Published datasets and their immutable versions (publish.rs writes them, catalog.rs reads them).
-- Portable types only; times are Unix seconds, digests lowercase hex, prices exact decimal text.
CREATE TABLE datasets (
    id TEXT PRIMARY KEY,
    -- The creator's did:key and the dataset's name as its manifest gives it: one dataset per pair.
    creator TEXT NOT NULL,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (creator, name)
);

-- A version is never changed once listed, except that it can be withdrawn (no new sales; the
-- record, its files and its credentials stay, for buyers who already hold it).
CREATE TABLE versions (
    id TEXT PRIMARY KEY,
    dataset_id TEXT NOT NULL REFERENCES datasets (id),
    -- Semantic version from the manifest.
    version TEXT NOT NULL,
    -- The exact bytes are in the blob store as datasets/<manifest_sha256>.json and
    -- datasets/<index_sha256>.jsonl.
    manifest_sha256 TEXT NOT NULL,
    manifest_size BIGINT NOT NULL,
    index_sha256 TEXT NOT NULL,
    index_size BIGINT NOT NULL,
    -- RFC 9162 Merkle root of the manifest's shard digests, in its order.
    shards_root TEXT NOT NULL,
    shard_count BIGINT NOT NULL,
    total_shard_bytes BIGINT NOT NULL,
    -- SPDX expression and the consent (JSON) as the manifest states them and the credential restates.
    license TEXT NOT NULL,
    consent TEXT NOT NULL,
    -- The dataset credential and the creator credential as presented (JSON).
    credential TEXT NOT NULL,
    creator_credential TEXT NOT NULL,
    -- Per-sample price, an exact decimal string, and its ISO 4217 currency.
    price TEXT NOT NULL,
    currency TEXT NOT NULL,
    -- The marketplace's creator share when this version was published, a decimal string.
    creator_share TEXT NOT NULL,
    published_at BIGINT NOT NULL,
    withdrawn_at BIGINT,
    UNIQUE (dataset_id, version)
);
CREATE INDEX versions_newest ON versions (published_at, id);

-- The shards of a version, in the manifest's order.
CREATE TABLE version_shards (
    version_id TEXT NOT NULL REFERENCES versions (id),
    position BIGINT NOT NULL,
    cid TEXT NOT NULL REFERENCES shards (cid),
    PRIMARY KEY (version_id, position)
);
CREATE INDEX version_shards_cid ON version_shards (cid);
