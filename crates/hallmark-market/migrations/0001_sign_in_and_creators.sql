-- Sign-in challenges, hashed session tokens and registered creators (SQLite and PostgreSQL alike:
-- portable types only; times are Unix seconds, digests lowercase hex).
CREATE TABLE challenges (
    challenge TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE INDEX challenges_expiry ON challenges (expires_at);

CREATE TABLE sessions (
    token_sha256 TEXT PRIMARY KEY,
    creator TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_creator ON sessions (creator);

CREATE TABLE creators (
    did TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    level TEXT NOT NULL,
    registered_at BIGINT NOT NULL,
    credential TEXT NOT NULL,
    credential_valid_until BIGINT NOT NULL
);
