-- Buyers, their entitlements to dataset versions (buyers.rs), read by shard access (access.rs).
-- Portable types only; times are Unix seconds, digests lowercase hex, prices exact decimal text.

CREATE TABLE buyers (
    -- `buyer_` and 32 hex digits.
    id TEXT PRIMARY KEY,
    -- The name as given (validated like a creator's name) and lowercased, unique.
    name TEXT NOT NULL,
    name_key TEXT NOT NULL UNIQUE,
    -- SHA-256 of the API key (`hmb_…`); the key itself is printed once and never stored.
    key_sha256 TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    -- Set by `hallmark-market buyer disable`: the key and every token of the buyer are refused.
    disabled_at BIGINT
);

-- A buyer's right to a version at the terms of the moment it was taken (copied from the version).
CREATE TABLE entitlements (
    -- `ent_` and 32 hex digits.
    id TEXT PRIMARY KEY,
    buyer_id TEXT NOT NULL REFERENCES buyers (id),
    version_id TEXT NOT NULL REFERENCES versions (id),
    price TEXT NOT NULL,
    currency TEXT NOT NULL,
    share_rate TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    -- Revoked by the buyer or the admin: its access tokens are refused from then on.
    revoked_at BIGINT
);
CREATE INDEX entitlements_buyer ON entitlements (buyer_id, created_at);
-- At most one unrevoked entitlement per buyer and version (taking it again returns that one).
CREATE UNIQUE INDEX entitlements_active ON entitlements (buyer_id, version_id) WHERE revoked_at IS NULL;
