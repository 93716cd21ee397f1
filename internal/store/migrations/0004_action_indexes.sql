-- The dispatcher reads due actions admins' first, then oldest: ORDER BY manual DESC, id. An index
-- on (state, manual, id) cannot give that order, so both databases sorted every pending action
-- for each batch (41 ms per batch of 256 at 100,000 pending on PostgreSQL; 0.2 ms with this one).
DROP INDEX actions_runnable;
CREATE INDEX actions_runnable ON actions (state, manual DESC, id);
