-- Alerts: the inbox, the delivery outbox and the notices gathered into owner/admin digests.

-- One row per alert group: repeats of the same rule on the same file (group_key) within the
-- rule's window raise count and last_at instead of adding rows.
CREATE TABLE alerts (
    id            {{ID}},
    group_key     TEXT NOT NULL,
    rule          TEXT NOT NULL,
    severity      TEXT NOT NULL,
    state         TEXT NOT NULL,
    title         TEXT NOT NULL DEFAULT '',
    message       TEXT NOT NULL DEFAULT '',
    app           TEXT NOT NULL DEFAULT '',
    tenant        TEXT NOT NULL DEFAULT '',
    drive         TEXT NOT NULL DEFAULT '',
    item_id       TEXT NOT NULL DEFAULT '',
    path          TEXT NOT NULL DEFAULT '',
    name          TEXT NOT NULL DEFAULT '',
    owner         TEXT NOT NULL DEFAULT '',
    label_id      TEXT NOT NULL DEFAULT '',
    prev_label_id TEXT NOT NULL DEFAULT '',
    actor         TEXT NOT NULL DEFAULT '',
    detail        TEXT NOT NULL DEFAULT '',
    event_id      BIGINT NOT NULL DEFAULT 0,
    action_id     BIGINT NOT NULL DEFAULT 0,
    occurrences   BIGINT NOT NULL DEFAULT 1,
    first_at      BIGINT NOT NULL,
    last_at       BIGINT NOT NULL,
    acked_by      TEXT NOT NULL DEFAULT '',
    acked_at      BIGINT NOT NULL DEFAULT 0,
    resolved_by   TEXT NOT NULL DEFAULT '',
    resolved_at   BIGINT NOT NULL DEFAULT 0,
    updated_at    BIGINT NOT NULL
);
CREATE INDEX alerts_group ON alerts (group_key, state, first_at);
CREATE INDEX alerts_state ON alerts (state, id);

-- Deliveries waiting to go out (webhook, e-mail, JSON lines), retried with backoff.
CREATE TABLE alert_outbox (
    id           {{ID}},
    alert_id     BIGINT NOT NULL DEFAULT 0,
    sink         TEXT NOT NULL,
    kind         TEXT NOT NULL,
    recipient    TEXT NOT NULL DEFAULT '',
    payload      TEXT NOT NULL DEFAULT '',
    state        TEXT NOT NULL,
    attempts     BIGINT NOT NULL DEFAULT 0,
    next_at      BIGINT NOT NULL,
    leased_until BIGINT NOT NULL DEFAULT 0,
    last_error   TEXT NOT NULL DEFAULT '',
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX alert_outbox_due ON alert_outbox (state, next_at);
CREATE INDEX alert_outbox_alert ON alert_outbox (alert_id);

-- Notices waiting for the next digest of their recipient (a file owner, or an admin address).
-- digest_id is the outbox row that carried them, 0 while they wait.
CREATE TABLE alert_notices (
    id        {{ID}},
    recipient TEXT NOT NULL,
    kind      TEXT NOT NULL,
    alert_id  BIGINT NOT NULL DEFAULT 0,
    action_id BIGINT NOT NULL DEFAULT 0,
    rule      TEXT NOT NULL DEFAULT '',
    severity  TEXT NOT NULL DEFAULT '',
    title     TEXT NOT NULL DEFAULT '',
    message   TEXT NOT NULL DEFAULT '',
    app       TEXT NOT NULL DEFAULT '',
    tenant    TEXT NOT NULL DEFAULT '',
    drive     TEXT NOT NULL DEFAULT '',
    item_id   TEXT NOT NULL DEFAULT '',
    path      TEXT NOT NULL DEFAULT '',
    name      TEXT NOT NULL DEFAULT '',
    label_id  TEXT NOT NULL DEFAULT '',
    at        BIGINT NOT NULL,
    digest_id BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX alert_notices_waiting ON alert_notices (digest_id, recipient);

-- When each recipient's last digest went out: one digest per recipient per interval.
CREATE TABLE alert_digests (
    recipient TEXT NOT NULL,
    kind      TEXT NOT NULL,
    last_sent BIGINT NOT NULL,
    PRIMARY KEY (recipient, kind)
);
