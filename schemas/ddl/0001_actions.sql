-- Raw actions (privacy policy clause 3.4): one row per action execution.
-- Sorted for billing (customer, time) and deduplicated on that key, so a
-- redelivered action_id collapses into one row on merge (read with FINAL).
-- Kept at most $actions_retention_days days after it started, then deleted by TTL.
CREATE TABLE IF NOT EXISTS $database.actions
(
    customer_id      UInt32,
    started_at       DateTime64(3, 'UTC')  CODEC(DoubleDelta, ZSTD(1)),
    action_id        UUID,
    ended_at         DateTime64(3, 'UTC')  CODEC(DoubleDelta, ZSTD(1)),
    parent_action_id UUID                  CODEC(ZSTD(1)),
    action           LowCardinality(String),
    login            String                CODEC(ZSTD(1)),
    session_id       String                CODEC(ZSTD(1)),
    bytes_in         UInt64                CODEC(T64, ZSTD(1)),
    bytes_out        UInt64                CODEC(T64, ZSTD(1)),
    client_ip        IPv6                  CODEC(ZSTD(1)),
    data_kind        LowCardinality(String),
    data_count       UInt64                CODEC(T64, ZSTD(1)),
    status           Enum8('ok' = 1, 'error' = 2),
    error_code       LowCardinality(String),
    server           LowCardinality(String),
    profile          Map(LowCardinality(String), String),
    kafka_partition  UInt16                CODEC(T64, ZSTD(1)),
    kafka_offset     UInt64                CODEC(DoubleDelta, ZSTD(1))
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(started_at)
ORDER BY (customer_id, started_at, action_id)
TTL toDateTime(started_at) + INTERVAL $actions_retention_days DAY
SETTINGS merge_with_ttl_timeout = $ttl_merge_seconds
