-- When a label write was sent: a run cut short after the write but before recording its outcome
-- (a crash) leaves the action running with the label at the provider. Its next run finds the
-- label in place and, knowing a write was sent, records it as labelgate's, keeping its quota unit.
ALTER TABLE actions ADD COLUMN write_sent_at BIGINT NOT NULL DEFAULT 0;
