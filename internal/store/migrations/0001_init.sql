-- labelgate schema v1. {{ID}} becomes the dialect's auto-increment primary key.
-- Times are unix milliseconds (BIGINT) in both databases so one set of queries serves both.

CREATE TABLE connectors (
    app        TEXT NOT NULL,
    tenant     TEXT NOT NULL,
    name       TEXT NOT NULL DEFAULT '',
    state      TEXT NOT NULL DEFAULT 'active',
    last_error TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (app, tenant)
);

-- Change-feed and walk cursors per drive.
CREATE TABLE cursors (
    app        TEXT NOT NULL,
    tenant     TEXT NOT NULL,
    drive      TEXT NOT NULL,
    kind       TEXT NOT NULL,
    cursor     TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (app, tenant, drive, kind)
);

-- Provider push registrations. secret is the clientState / channel token.
CREATE TABLE subscriptions (
    app        TEXT NOT NULL,
    tenant     TEXT NOT NULL,
    id         TEXT NOT NULL,
    drive      TEXT NOT NULL,
    resource   TEXT NOT NULL DEFAULT '',
    secret     TEXT NOT NULL DEFAULT '',
    notify_url TEXT NOT NULL DEFAULT '',
    expires_at BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    renewed_at BIGINT NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (app, tenant, id)
);
CREATE INDEX subscriptions_drive ON subscriptions (app, tenant, drive);

-- Drives that a notification said changed, coalesced until a worker reads their change feed.
CREATE TABLE changed_drives (
    app          TEXT NOT NULL,
    tenant       TEXT NOT NULL,
    drive        TEXT NOT NULL,
    reason       TEXT NOT NULL,
    requested_at BIGINT NOT NULL,
    generation   BIGINT NOT NULL DEFAULT 1,
    leased_until BIGINT NOT NULL DEFAULT 0,
    attempts     BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (app, tenant, drive)
);

-- Webhook delivery ids already accepted, for replay/duplicate suppression.
CREATE TABLE webhook_deliveries (
    dedup_key   TEXT PRIMARY KEY,
    received_at BIGINT NOT NULL
);
CREATE INDEX webhook_deliveries_at ON webhook_deliveries (received_at);

-- The inventory: one row per file a connector reported.
CREATE TABLE files (
    app            TEXT NOT NULL,
    tenant         TEXT NOT NULL,
    drive          TEXT NOT NULL,
    item_id        TEXT NOT NULL,
    path           TEXT NOT NULL DEFAULT '',
    name           TEXT NOT NULL DEFAULT '',
    ext            TEXT NOT NULL DEFAULT '',
    file_type      TEXT NOT NULL DEFAULT '',
    size           BIGINT NOT NULL DEFAULT 0,
    created_at     BIGINT NOT NULL DEFAULT 0,
    modified_at    BIGINT NOT NULL DEFAULT 0,
    etag           TEXT NOT NULL DEFAULT '',
    owner          TEXT NOT NULL DEFAULT '',
    owner_ou       TEXT NOT NULL DEFAULT '',
    groups_json    TEXT NOT NULL DEFAULT '',
    access         TEXT NOT NULL DEFAULT '',
    domains_json   TEXT NOT NULL DEFAULT '',
    web_url        TEXT NOT NULL DEFAULT '',
    deleted        BOOLEAN NOT NULL DEFAULT FALSE,
    label_id       TEXT NOT NULL DEFAULT '',
    label_tenant   TEXT NOT NULL DEFAULT '',
    label_method   TEXT NOT NULL DEFAULT '',
    label_set_at   BIGINT NOT NULL DEFAULT 0,
    label_external BOOLEAN NOT NULL DEFAULT FALSE,
    protected      BOOLEAN NOT NULL DEFAULT FALSE,
    scanned_etag   TEXT NOT NULL DEFAULT '',
    scanned_size   BIGINT NOT NULL DEFAULT 0,
    last_scanned   BIGINT NOT NULL DEFAULT 0,
    scan_error     TEXT NOT NULL DEFAULT '',
    bytes_read     BIGINT NOT NULL DEFAULT 0,
    seen_rescan    BIGINT NOT NULL DEFAULT 0,
    first_seen     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    PRIMARY KEY (app, tenant, drive, item_id)
);
CREATE INDEX files_label ON files (label_id);
CREATE INDEX files_owner ON files (owner);
CREATE INDEX files_modified ON files (modified_at);
CREATE INDEX files_path ON files (app, tenant, path);

-- The label catalog, per source app and tenant.
CREATE TABLE labels (
    app          TEXT NOT NULL,
    tenant       TEXT NOT NULL,
    id           TEXT NOT NULL,
    name         TEXT NOT NULL DEFAULT '',
    display_name TEXT NOT NULL DEFAULT '',
    parent       TEXT NOT NULL DEFAULT '',
    priority     BIGINT NOT NULL DEFAULT 0,
    protection   BOOLEAN NOT NULL DEFAULT FALSE,
    state        TEXT NOT NULL DEFAULT 'enabled',
    external     BOOLEAN NOT NULL DEFAULT FALSE,
    native       TEXT NOT NULL DEFAULT '',
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (app, tenant, id)
);

-- Discovery log: every discovery, label change and governance outcome.
CREATE TABLE events (
    id            {{ID}},
    at            BIGINT NOT NULL,
    kind          TEXT NOT NULL,
    app           TEXT NOT NULL DEFAULT '',
    tenant        TEXT NOT NULL DEFAULT '',
    drive         TEXT NOT NULL DEFAULT '',
    item_id       TEXT NOT NULL DEFAULT '',
    path          TEXT NOT NULL DEFAULT '',
    name          TEXT NOT NULL DEFAULT '',
    label_id      TEXT NOT NULL DEFAULT '',
    prev_label_id TEXT NOT NULL DEFAULT '',
    actor         TEXT NOT NULL DEFAULT '',
    detail        TEXT NOT NULL DEFAULT ''
);
CREATE INDEX events_at ON events (at);
CREATE INDEX events_kind ON events (kind, at);
CREATE INDEX events_file ON events (app, tenant, drive, item_id);

CREATE TABLE policies (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    enabled     BOOLEAN NOT NULL DEFAULT TRUE,
    severity    TEXT NOT NULL DEFAULT '',
    category    TEXT NOT NULL DEFAULT '',
    doc         TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

-- Governance actions. state: pending, suspended, running, paused (quota), done, failed,
-- refused, canceled. dedup_key is unique among unfinished actions.
CREATE TABLE actions (
    id           {{ID}},
    dedup_key    TEXT NOT NULL,
    policy_id    TEXT NOT NULL DEFAULT '',
    kind         TEXT NOT NULL,
    app          TEXT NOT NULL,
    tenant       TEXT NOT NULL,
    drive        TEXT NOT NULL,
    item_id      TEXT NOT NULL,
    label_id     TEXT NOT NULL DEFAULT '',
    params       TEXT NOT NULL DEFAULT '',
    state        TEXT NOT NULL,
    reason       TEXT NOT NULL DEFAULT '',
    requested_by TEXT NOT NULL DEFAULT '',
    manual       BOOLEAN NOT NULL DEFAULT FALSE,
    attempts     BIGINT NOT NULL DEFAULT 0,
    not_before   BIGINT NOT NULL DEFAULT 0,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE UNIQUE INDEX actions_dedup_open ON actions (dedup_key) WHERE state IN ('pending', 'suspended', 'running', 'paused');
CREATE INDEX actions_state ON actions (state, created_at);
CREATE INDEX actions_policy ON actions (policy_id, state);

-- Daily quota usage per app, tenant and allowance ("auto" for policy actions, "manual" for admins).
CREATE TABLE quotas (
    app          TEXT NOT NULL,
    tenant       TEXT NOT NULL,
    allowance    TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    used         BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (app, tenant, allowance, window_start)
);

-- Full rescans, resumable: progress and per-drive walk cursors live in cursors (kind 'rescan:<id>').
CREATE TABLE rescans (
    id          {{ID}},
    connector   TEXT NOT NULL,
    app         TEXT NOT NULL,
    tenant      TEXT NOT NULL,
    scope       TEXT NOT NULL DEFAULT '',
    force       BOOLEAN NOT NULL DEFAULT FALSE,
    state       TEXT NOT NULL,
    enumerated  BIGINT NOT NULL DEFAULT 0,
    enqueued    BIGINT NOT NULL DEFAULT 0,
    skipped     BIGINT NOT NULL DEFAULT 0,
    error       TEXT NOT NULL DEFAULT '',
    started_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    finished_at BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX rescans_state ON rescans (state);

-- Named leases: one replica at a time runs the scheduler and the catalog sync.
CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
