-- Every label a file carries (issue 20): one row per tenant's label that applies, with where it
-- was found in the file. files.label_id stays the file's label for labelgate (the organisation's
-- tenant's when the file has one); files.label_external now means "carries another tenant's label".
CREATE TABLE file_labels (
    app          TEXT NOT NULL,
    tenant       TEXT NOT NULL,
    drive        TEXT NOT NULL,
    item_id      TEXT NOT NULL,
    seq          INTEGER NOT NULL,
    label_id     TEXT NOT NULL,
    label_tenant TEXT NOT NULL DEFAULT '',
    method       TEXT NOT NULL DEFAULT '',
    set_at       BIGINT NOT NULL DEFAULT 0,
    source       TEXT NOT NULL DEFAULT '',
    parent_id    TEXT NOT NULL DEFAULT '',
    name         TEXT NOT NULL DEFAULT '',
    external     BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (app, tenant, drive, item_id, seq)
);
CREATE INDEX file_labels_label ON file_labels (label_id);
