-- Provider pacing shared by replicas (issue 21): each replica pacing a provider tenant's
-- requests says so here every few seconds; the live rows of a tenant are how many replicas
-- share its budget.
CREATE TABLE pacer_shares (
    provider TEXT NOT NULL,
    tenant   TEXT NOT NULL,
    replica  TEXT NOT NULL,
    seen_at  BIGINT NOT NULL,
    PRIMARY KEY (provider, tenant, replica)
);
