-- Resumable tus uploads of shards (uploads.rs): the offset and SHA-256 state made durable at the
-- last checkpoint, so a restarted server resumes without re-reading, and the S3 parts stored so far.
CREATE TABLE uploads (
    -- Random, 32 lowercase hex digits; the URL is /v1/uploads/<id>.
    id TEXT PRIMARY KEY,
    creator TEXT NOT NULL,
    -- The shard's CID (from Upload-Metadata) and the SHA-256 it names, lowercase hex.
    cid TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    -- Upload-Length.
    length BIGINT NOT NULL,
    -- Bytes received and made durable (fsync'd partial file or spool, S3 parts stored).
    upload_offset BIGINT NOT NULL,
    -- The serialized SHA-256 state after upload_offset bytes, lowercase hex; empty once complete.
    hash_state TEXT NOT NULL,
    -- The Upload-Metadata header as sent, echoed by HEAD.
    metadata TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    -- tus expiration: an unfinished upload is removed after this (Unix seconds).
    expires_at BIGINT NOT NULL,
    -- The S3 multipart upload id (S3 store only; NULL for local files).
    multipart_id TEXT,
    -- When the shard was stored (NULL while unfinished).
    completed_at BIGINT
);
CREATE INDEX uploads_creator_cid ON uploads (creator, cid);
CREATE INDEX uploads_expiry ON uploads (expires_at);

-- The S3 multipart parts of an unfinished upload, all but the last exactly PART_BYTES long.
CREATE TABLE upload_parts (
    upload_id TEXT NOT NULL REFERENCES uploads (id) ON DELETE CASCADE,
    -- 0-based.
    part_number BIGINT NOT NULL,
    etag TEXT NOT NULL,
    PRIMARY KEY (upload_id, part_number)
);
