-- Exact folding whatever the arrival order (docs/design.md). One statement per batch
-- records an action as counted: an INSERT into the Null table action_folds,
-- whose materialized views write, from the same block,
--   action_ids      the dedup index (by action id, kept as long as the raw row),
--   usage_sums      mergeable sums per (customer, hour),
--   capacity_states mergeable states per (minute, action), exact quantiles included.
-- Every insert carries a deterministic insert_deduplication_token (derived per
-- target by the views), so a retried statement lands once in every target.
-- usage_hourly and capacity_minutely stay what readers read: the published
-- window states, rewritten from the sums/states with version = `updates`, the
-- number of inserts folded into the window (it only grows).
CREATE TABLE IF NOT EXISTS $database.action_folds
(
    action_id    UUID,
    content_hash UInt64,
    customer_id  UInt32,
    started_at   DateTime64(3, 'UTC'),
    ended_at     DateTime64(3, 'UTC'),
    action       LowCardinality(String),
    bytes_in     UInt64,
    bytes_out    UInt64,
    status       Enum8('ok' = 1, 'error' = 2),
    partition    UInt16,
    offset       UInt64
)
ENGINE = Null;

-- The dedup index now lives as long as the action it stands for (event time +
-- actions retention), not a horizon after it was seen. Ids indexed before
-- this migration have no started_at: their seen_at stands in for it.
ALTER TABLE $database.action_ids
    ADD COLUMN IF NOT EXISTS started_at DateTime64(3, 'UTC')
        DEFAULT toDateTime64(seen_at, 3, 'UTC') CODEC(DoubleDelta, ZSTD(1));

ALTER TABLE $database.action_ids
    MODIFY TTL toDateTime(started_at) + INTERVAL $actions_retention_days DAY;

ALTER TABLE $database.action_ids
    MODIFY SETTING non_replicated_deduplication_window = 1000;

-- Signed: `spur reconcile --repair` may add a negative correction.
CREATE TABLE IF NOT EXISTS $database.usage_sums
(
    customer_id   UInt32,
    hour          DateTime('UTC'),
    bytes_in      Int128,
    bytes_out     Int128,
    actions       Int64,
    error_actions Int64,
    duration_ms   Int64,
    updates       UInt64
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (customer_id, hour)
TTL hour + INTERVAL $actions_retention_days DAY
SETTINGS merge_with_ttl_timeout = $ttl_merge_seconds, non_replicated_deduplication_window = 1000;

-- Sorted by minute first: a batch reads its minutes by exact key.
CREATE TABLE IF NOT EXISTS $database.capacity_states
(
    minute        DateTime('UTC'),
    action        LowCardinality(String),
    actions       SimpleAggregateFunction(sum, UInt64),
    error_actions SimpleAggregateFunction(sum, UInt64),
    bytes_in      SimpleAggregateFunction(sum, UInt64),
    bytes_out     SimpleAggregateFunction(sum, UInt64),
    durations     AggregateFunction(quantilesExact(0.5, 0.95, 0.99), Float64),
    updates       SimpleAggregateFunction(sum, UInt64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(minute)
ORDER BY (minute, action)
TTL minute + INTERVAL $capacity_retention_days DAY
SETTINGS merge_with_ttl_timeout = $ttl_merge_seconds, non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS $database.action_folds_to_ids TO $database.action_ids
AS SELECT action_id, content_hash, partition, offset, customer_id, started_at
FROM $database.action_folds;

CREATE MATERIALIZED VIEW IF NOT EXISTS $database.action_folds_to_usage TO $database.usage_sums
AS SELECT customer_id,
          toStartOfHour(toDateTime(started_at, 'UTC')) AS hour,
          sum(toInt128(bytes_in)) AS bytes_in,
          sum(toInt128(bytes_out)) AS bytes_out,
          toInt64(count()) AS actions,
          toInt64(countIf(status = 'error')) AS error_actions,
          toInt64(sum(greatest(0, dateDiff('millisecond', started_at, ended_at)))) AS duration_ms,
          toUInt64(1) AS updates
FROM $database.action_folds
GROUP BY customer_id, hour;

CREATE MATERIALIZED VIEW IF NOT EXISTS $database.action_folds_to_capacity
TO $database.capacity_states
AS SELECT toStartOfMinute(toDateTime(started_at, 'UTC')) AS minute,
          action,
          toUInt64(count()) AS actions,
          toUInt64(countIf(status = 'error')) AS error_actions,
          sum(bytes_in) AS bytes_in,
          sum(bytes_out) AS bytes_out,
          quantilesExactState(0.5, 0.95, 0.99)(
              toFloat64(dateDiff('millisecond', started_at, ended_at))) AS durations,
          toUInt64(1) AS updates
FROM $database.action_folds
GROUP BY minute, action;

-- Upgrading a store: the sums start from the published windows, with their
-- counts above the old versions (offsets, wall-clock microseconds) so that
-- the ReplacingMergeTree tables keep taking the newest state. Each seed runs
-- only into an empty table (a rerun after a crash adds nothing).
INSERT INTO $database.usage_sums
SELECT customer_id, hour, toInt128(bytes_in), toInt128(bytes_out), toInt64(actions),
       toInt64(error_actions), toInt64(duration_ms), version + 1
FROM $database.usage_hourly FINAL
WHERE (SELECT count() FROM $database.usage_sums) = 0;

INSERT INTO $database.capacity_states
SELECT toStartOfMinute(toDateTime(started_at, 'UTC')) AS minute, action,
       count(), countIf(status = 'error'), sum(bytes_in), sum(bytes_out),
       quantilesExactState(0.5, 0.95, 0.99)(
           toFloat64(dateDiff('millisecond', started_at, ended_at))),
       (SELECT max(version) FROM $database.capacity_minutely) + 1
FROM $database.actions FINAL
WHERE (SELECT count() FROM $database.capacity_states) = 0
GROUP BY minute, action;

-- Stored actions whose ids the old 7-day index had already expired: indexed
-- again, content hash 0 = "recorded before hashes were kept" (a repeat is a
-- duplicate). Their folds were done (or missed as late) by the old pipeline.
INSERT INTO $database.action_ids (action_id, content_hash, partition, offset, customer_id, started_at)
SELECT action_id, 0, kafka_partition, kafka_offset, customer_id, started_at
FROM $database.actions FINAL
WHERE action_id NOT IN (SELECT action_id FROM $database.action_ids)
