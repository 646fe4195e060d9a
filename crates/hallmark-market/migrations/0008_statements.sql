-- Creators' earnings statements (statements.rs): the exact signed bytes, the chain and payout state.
CREATE TABLE statements (
    id TEXT PRIMARY KEY,
    creator TEXT NOT NULL,
    -- 1, 2, 3… per creator; each statement names the SHA-256 of the one before.
    sequence BIGINT NOT NULL,
    period_start BIGINT NOT NULL,
    period_end BIGINT NOT NULL,
    -- The signed statement's exact bytes and their SHA-256 (what the next one chains to).
    body TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    -- The size of the checkpoint it is anchored to.
    checkpoint_size BIGINT NOT NULL,
    issued_at BIGINT NOT NULL,
    -- pending, then paid with the payment's reference (set by `hallmark-market payout mark`).
    payout_status TEXT NOT NULL,
    payout_reference TEXT,
    paid_at BIGINT,
    UNIQUE (creator, sequence),
    UNIQUE (creator, period_start)
);
