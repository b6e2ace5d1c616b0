-- Uploaded source archives, checked at upload time and extracted by a worker per job. Kept in
-- Postgres so any worker process can read them.
CREATE TABLE uploads (
    id         uuid        PRIMARY KEY,
    owner_id   uuid        NOT NULL REFERENCES users (id),
    format     text        NOT NULL CHECK (format IN ('tar.gz', 'zip')),
    size_bytes bigint      NOT NULL,
    files      bigint      NOT NULL,
    expanded_bytes bigint  NOT NULL,
    sha256     bytea       NOT NULL,
    content    bytea       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX uploads_owner ON uploads (owner_id, created_at DESC);
