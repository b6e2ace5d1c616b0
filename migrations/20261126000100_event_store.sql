-- The event store: postgres-es's `events` and `snapshots` tables, extended with columns that
-- postgres-es's INSERT fills without knowing (defaults and generated columns).

CREATE TABLE events (
    aggregate_type  text        NOT NULL,
    aggregate_id    text        NOT NULL,
    sequence        bigint      NOT NULL CHECK (sequence >= 0),
    event_type      text        NOT NULL,
    event_version   text        NOT NULL,
    payload         jsonb       NOT NULL,
    metadata        jsonb       NOT NULL,
    -- Taken at insert, visible at commit: catch-up readers order by (transaction_id, global_position).
    global_position bigint      GENERATED ALWAYS AS IDENTITY,
    transaction_id  xid8        NOT NULL DEFAULT pg_current_xact_id(),
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    event_id        uuid        NOT NULL DEFAULT gen_random_uuid(),
    actor           text        GENERATED ALWAYS AS (metadata ->> 'actor') STORED,
    correlation_id  uuid        GENERATED ALWAYS AS ((metadata ->> 'correlation_id')::uuid) STORED,
    causation_id    uuid        GENERATED ALWAYS AS ((metadata ->> 'causation_id')::uuid) STORED,
    command_id      uuid        GENERATED ALWAYS AS ((metadata ->> 'command_id')::uuid) STORED,
    CONSTRAINT events_pkey PRIMARY KEY (aggregate_type, aggregate_id, sequence),
    -- Every command carries its metadata; an event without it is refused.
    CONSTRAINT events_metadata_present
        CHECK (metadata ? 'actor' AND metadata ? 'command_id' AND metadata ? 'correlation_id')
);

CREATE UNIQUE INDEX events_global_position_key ON events (global_position);
CREATE UNIQUE INDEX events_event_id_key ON events (event_id);
CREATE INDEX events_catch_up_order ON events (transaction_id, global_position);
CREATE INDEX events_correlation_id ON events (correlation_id);

-- Events are facts: never edited, never removed.
CREATE FUNCTION events_are_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'events are append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER events_no_update_or_delete
    BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION events_are_immutable();

CREATE TRIGGER events_no_truncate
    BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_are_immutable();

-- No NOTIFY trigger here on purpose: a transaction that notifies takes a cluster-wide lock at
-- commit and holds it through the WAL flush, which serialises every append (removing it took
-- POST /api/insight/analysis from 850 to 949 per second at 32 clients, BENCHMARKS.md). Readers
-- are woken in-process and otherwise poll.

CREATE TABLE snapshots (
    aggregate_type   text   NOT NULL,
    aggregate_id     text   NOT NULL,
    last_sequence    bigint NOT NULL CHECK (last_sequence >= 0),
    current_snapshot bigint NOT NULL CHECK (current_snapshot >= 0),
    payload          jsonb  NOT NULL,
    CONSTRAINT snapshots_pkey PRIMARY KEY (aggregate_type, aggregate_id, last_sequence)
);

-- Where each catch-up reader (projector, relay, ...) has got to in the catch-up order.
CREATE TABLE checkpoints (
    name            text        PRIMARY KEY,
    transaction_id  xid8        NOT NULL DEFAULT '0',
    global_position bigint      NOT NULL DEFAULT 0,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
