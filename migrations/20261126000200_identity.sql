-- Users and their API tokens. Tokens are stored only as SHA-256 hashes.

CREATE TABLE users (
    id         uuid        PRIMARY KEY,
    email      text        NOT NULL,
    plan       text        NOT NULL DEFAULT 'free' CHECK (plan IN ('free', 'pro', 'enterprise')),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TABLE api_tokens (
    id           uuid        PRIMARY KEY,
    user_id      uuid        NOT NULL REFERENCES users (id),
    name         text        NOT NULL,
    token_hash   bytea       NOT NULL,
    -- The first characters of the token, so a user can tell tokens apart without the secret.
    token_prefix text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz,
    CONSTRAINT api_tokens_token_hash_key UNIQUE (token_hash)
);

CREATE INDEX api_tokens_user ON api_tokens (user_id, created_at DESC);
