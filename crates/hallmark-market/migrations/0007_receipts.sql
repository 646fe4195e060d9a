-- Receipts of paid accesses and the checkpoints of the receipt log (metering.rs, log.rs).
-- Portable types only; times are Unix seconds, digests lowercase hex.

-- One row per paid access that delivered its bytes. `log_index` is the receipt's leaf in the
-- public log (dense, from 0, assigned by the one sequencer that writes this table).
CREATE TABLE receipts (
    id TEXT PRIMARY KEY,
    log_index BIGINT NOT NULL UNIQUE,
    -- SHA-256 of (token id, shard, requested range): the request this receipt bills.
    access_key TEXT NOT NULL,
    -- The samples it bills, as indexes in shard order: each is paid once per token and shard.
    token_id TEXT NOT NULL,
    shard TEXT NOT NULL,
    first_sample BIGINT NOT NULL,
    last_sample BIGINT NOT NULL,
    creator TEXT NOT NULL,
    buyer_id TEXT NOT NULL,
    entitlement_id TEXT NOT NULL,
    version_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    -- The receipt's JCS bytes (what the creator gets) and their SHA-256 (the log entry).
    body TEXT NOT NULL,
    commitment TEXT NOT NULL,
    -- The statement that counts it, once its period closed.
    statement_id TEXT
);
CREATE INDEX receipts_creator ON receipts (creator, log_index);
CREATE INDEX receipts_access ON receipts (access_key);
-- Runs of one token and shard never overlap: found by their first sample.
CREATE INDEX receipts_paid ON receipts (token_id, shard, first_sample);
CREATE INDEX receipts_unstated ON receipts (statement_id, created_at);

-- Every checkpoint the marketplace signed, so `log check` can prove each is consistent with the
-- log in storage, and creators can fetch the one a statement is anchored to.
CREATE TABLE checkpoints (
    size BIGINT PRIMARY KEY,
    root TEXT NOT NULL,
    note TEXT NOT NULL,
    issued_at BIGINT NOT NULL
);
