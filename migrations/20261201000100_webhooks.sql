-- Customer webhooks: endpoints, one delivery per (event, endpoint), and every attempt. The retry
-- schedule lives here (next_attempt_at), not in NATS: a delivery waits hours between attempts
-- and a restart must lose none (ADR 0007).
CREATE TABLE webhook_endpoints (
    id                       uuid        PRIMARY KEY,
    -- NULL for the internal endpoint (INTERNAL_WEBHOOK_URL), which receives every owner's events.
    owner_id                 uuid        REFERENCES users (id),
    url                      text        NOT NULL,
    -- Public event types (`analysis.completed`, ...); all of them when empty.
    event_types              text[]      NOT NULL DEFAULT '{}',
    project_id               uuid,
    secret                   text        NOT NULL,
    -- During a rotation the old secret signs too, until previous_secret_expires_at.
    previous_secret          text,
    previous_secret_expires_at timestamptz,
    internal                 boolean     NOT NULL DEFAULT false,
    created_at               timestamptz NOT NULL DEFAULT now(),
    deleted_at               timestamptz,
    disabled_at              timestamptz,
    disabled_reason          text,
    -- The first failure since the last success: five days of failing disables the endpoint.
    failing_since            timestamptz
);

CREATE INDEX webhook_endpoints_owner ON webhook_endpoints (owner_id, created_at)
    WHERE deleted_at IS NULL;

CREATE TABLE webhook_deliveries (
    id              uuid        PRIMARY KEY,
    endpoint_id     uuid        NOT NULL REFERENCES webhook_endpoints (id),
    -- The event id: also the `webhook-id` header, stable across retries.
    event_id        uuid        NOT NULL,
    event_type      text        NOT NULL,
    -- The body sent, `{type, timestamp, data}`, kept byte for byte so every attempt signs the same.
    body            text        NOT NULL,
    status          text        NOT NULL DEFAULT 'pending'
                                CHECK (status IN ('pending', 'succeeded', 'failed')),
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_attempt_at timestamptz,
    CONSTRAINT webhook_deliveries_once UNIQUE (endpoint_id, event_id)
);

CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
    WHERE status = 'pending';
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, created_at DESC);

CREATE TABLE webhook_attempts (
    delivery_id   uuid        NOT NULL REFERENCES webhook_deliveries (id),
    attempt       integer     NOT NULL,
    attempted_at  timestamptz NOT NULL,
    status_code   integer,
    duration_ms   bigint      NOT NULL,
    -- Cut to a bound (WEBHOOK_RESPONSE_BODY_LIMIT bytes).
    response_body text,
    error         text,
    PRIMARY KEY (delivery_id, attempt)
);

-- Messages received on POST /api/webhooks/insight-internal: a repeated webhook-id is a no-op.
CREATE TABLE internal_webhook_messages (
    id          text        PRIMARY KEY,
    event_type  text        NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);

-- Replay reads the log from a point in time: a BRIN index is nearly free to keep on an
-- append-only table whose recorded_at grows with its physical order.
CREATE INDEX events_recorded_at_brin ON events USING brin (recorded_at);
