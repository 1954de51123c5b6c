-- Capacity byte sums as 128-bit integers, like the usage sums (0006): one
-- action may carry up to 2^63 - 1 bytes, so a minute's sum passed 2^64 and
-- wrapped in the 64-bit states and windows. The tables first, then the view:
-- in between, the view's 64-bit sums go into the wider columns unchanged.
-- Minutes that wrapped before this ran keep their wrapped sums until
-- `spur reconcile --repair` rebuilds them from the raw actions.
ALTER TABLE $database.capacity_states
    MODIFY COLUMN bytes_in SimpleAggregateFunction(sum, UInt128),
    MODIFY COLUMN bytes_out SimpleAggregateFunction(sum, UInt128)
    SETTINGS mutations_sync = 2;

ALTER TABLE $database.capacity_minutely
    MODIFY COLUMN bytes_in UInt128,
    MODIFY COLUMN bytes_out UInt128
    SETTINGS mutations_sync = 2;

-- The view is dropped and created again rather than altered: after
-- `ALTER ... MODIFY QUERY` the server derived another deduplication token for
-- the view's inserts once it restarted (measured), so a fold retried across
-- that restart was counted twice in capacity_states. A fold that lands in the
-- moment between the two statements misses capacity_states (billing is not
-- involved): `spur reconcile` names such a minute, `--repair` rebuilds it.
DROP VIEW IF EXISTS $database.action_folds_to_capacity;

CREATE MATERIALIZED VIEW IF NOT EXISTS $database.action_folds_to_capacity
TO $database.capacity_states
AS SELECT toStartOfMinute(toDateTime(started_at, 'UTC')) AS minute,
          action,
          toUInt64(count()) AS actions,
          toUInt64(countIf(status = 'error')) AS error_actions,
          sum(toUInt128(bytes_in)) AS bytes_in,
          sum(toUInt128(bytes_out)) AS bytes_out,
          quantilesExactState(0.5, 0.95, 0.99)(
              toFloat64(dateDiff('millisecond', started_at, ended_at))) AS durations,
          toUInt64(1) AS updates
FROM $database.action_folds
GROUP BY minute, action;
