-- Billing months in zones whose offset is not a whole hour (Asia/Kolkata +5:30,
-- Asia/Kathmandu +5:45, Australia/Adelaide +9:30/+10:30) begin and end inside
-- an hour. Every zone in use is offset from UTC by a multiple of 15 minutes, so
-- the fold also sums each customer's quarter hours, from the same insert into
-- action_folds (exactly once, like the hourly sums); billing reads the whole
-- hours from usage_hourly and the month's partial edge hours from here.
CREATE TABLE IF NOT EXISTS $database.usage_quarters
(
    customer_id   UInt32,
    quarter       DateTime('UTC'),
    bytes_in      Int128,
    bytes_out     Int128,
    actions       Int64
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(quarter)
ORDER BY (customer_id, quarter)
TTL quarter + INTERVAL $actions_retention_days DAY
SETTINGS merge_with_ttl_timeout = $ttl_merge_seconds, non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS $database.action_folds_to_quarters
TO $database.usage_quarters
AS SELECT customer_id,
          toStartOfFifteenMinutes(toDateTime(started_at, 'UTC')) AS quarter,
          sum(toInt128(bytes_in)) AS bytes_in,
          sum(toInt128(bytes_out)) AS bytes_out,
          toInt64(count()) AS actions
FROM $database.action_folds
GROUP BY customer_id, quarter;

-- Upgrading a store: the quarters of the actions stored so far (only into an
-- empty table, so a rerun after a crash adds nothing).
INSERT INTO $database.usage_quarters
SELECT customer_id, toStartOfFifteenMinutes(toDateTime(started_at, 'UTC')) AS quarter,
       sum(toInt128(bytes_in)), sum(toInt128(bytes_out)), toInt64(count())
FROM $database.actions FINAL
WHERE (SELECT count() FROM $database.usage_quarters) = 0
GROUP BY customer_id, quarter
