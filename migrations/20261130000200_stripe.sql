-- Stripe webhooks. Every delivered event is kept as received (auditors can see what Stripe
-- said and what we did with it); `handled_at` makes a redelivery a no-op. An event for a
-- customer not yet linked to a user is parked and handled when the link appears.
CREATE TABLE stripe_events (
    id          text        PRIMARY KEY,
    type        text        NOT NULL,
    created     timestamptz NOT NULL,
    livemode    boolean     NOT NULL,
    body        jsonb       NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    handled_at  timestamptz,
    -- applied | ignored | duplicate | parked
    outcome     text,
    -- set while parked: the customer whose link it waits for
    parked_for_customer text
);

CREATE INDEX stripe_events_parked ON stripe_events (parked_for_customer, created)
    WHERE parked_for_customer IS NOT NULL;

-- Which user a Stripe customer pays for: from `client_reference_id` at checkout, or the
-- subscription's `metadata.userId`.
CREATE TABLE stripe_customers (
    customer_id text        PRIMARY KEY,
    user_id     uuid        NOT NULL REFERENCES users (id),
    linked_at   timestamptz NOT NULL DEFAULT now()
);
