-- Notifications to users, recorded before they are sent (an outbox): the e-mail sender picks
-- pending rows, sends them, and retries with backoff, so a failing mail server loses none.
CREATE TABLE notifications (
    id              uuid        PRIMARY KEY,
    user_id         uuid        NOT NULL REFERENCES users (id),
    kind            text        NOT NULL,
    subject         text        NOT NULL,
    body            text        NOT NULL,
    created_at      timestamptz NOT NULL,
    -- pending: still to be e-mailed (kept pending while no mail server is configured, so
    -- configuring one later sends them); sent: the mail server accepted it.
    email_status    text        NOT NULL DEFAULT 'pending'
                                CHECK (email_status IN ('pending', 'sent')),
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    sent_at         timestamptz
);

CREATE INDEX notifications_user ON notifications (user_id, created_at DESC);
CREATE INDEX notifications_pending ON notifications (next_attempt_at) WHERE email_status = 'pending';
