-- Sharing governance (issue 24): every grant a sharing action removed, kept so it can be
-- restored (undo), and the restore itself. permission is the connectors.Permission as JSON
-- (grantee, role, link scope and settings, the provider's own record).
CREATE TABLE sharing_changes (
    id            {{ID}},
    action_id     BIGINT NOT NULL,
    app           TEXT NOT NULL,
    tenant        TEXT NOT NULL,
    drive         TEXT NOT NULL,
    item_id       TEXT NOT NULL,
    permission_id TEXT NOT NULL,
    permission    TEXT NOT NULL,
    removed_at    BIGINT NOT NULL,
    -- set when an undo granted it again: the undo action, when, the grant's new id (a
    -- recreated link gets a new one) and a note (e.g. "new link URL").
    restored_by   BIGINT NOT NULL DEFAULT 0,
    restored_at   BIGINT NOT NULL DEFAULT 0,
    restored_id   TEXT NOT NULL DEFAULT '',
    restore_note  TEXT NOT NULL DEFAULT '',
    UNIQUE (action_id, permission_id)
);
CREATE INDEX sharing_changes_file ON sharing_changes (app, tenant, drive, item_id);
