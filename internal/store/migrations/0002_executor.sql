-- Executor: an action remembers which quota window it was counted in, so a write that did not
-- happen gives its unit back to that window (not to whichever window is current when it ends).
ALTER TABLE actions ADD COLUMN quota_window BIGINT NOT NULL DEFAULT 0;
CREATE INDEX actions_runnable ON actions (state, manual, id);
