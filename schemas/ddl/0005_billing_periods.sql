-- Closed billing periods (docs/design.md#closed-months): a month's invoice totals per customer in
-- one time zone, recorded by `spur billing close` and never changed by spur
-- (plain MergeTree: nothing replaces a row; only the TTL and `spur erase
-- --customer` remove rows). A period is (month, timezone). One close is one
-- insert of one block: a row per customer, plus a row with customer_id 0 (not
-- a customer id, those start at 1) that marks the period closed even when
-- nobody used it. Should two closes race, readers take the first (earliest
-- closed_at, then close_id); the other's rows are ignored.
-- Holds customer ids: kept $actions_retention_days days from the period's
-- start, like the first hourly windows it sums.
CREATE TABLE IF NOT EXISTS $database.billing_periods
(
    month        LowCardinality(String),
    timezone     LowCardinality(String),
    period_start DateTime('UTC'),
    period_end   DateTime('UTC'),
    close_id     UUID,
    closed_at    DateTime64(3, 'UTC'),
    closed_by    String,
    customer_id  UInt32,
    bytes_in     UInt128,
    bytes_out    UInt128,
    actions      UInt64
)
ENGINE = MergeTree
ORDER BY (month, timezone, closed_at, close_id, customer_id)
TTL period_start + INTERVAL $actions_retention_days DAY
SETTINGS merge_with_ttl_timeout = $ttl_merge_seconds
