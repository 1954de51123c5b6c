-- Every action id the pipeline has accepted, with where it was first read and
-- a hash of its content: the dedup index. Looked up per batch by id; kept
-- $dedup_horizon_days days after it was first seen (the dedup horizon).
CREATE TABLE IF NOT EXISTS $database.action_ids
(
    action_id    UUID,
    content_hash UInt64,
    partition    UInt16,
    offset       UInt64,
    customer_id  UInt32,
    seen_at      DateTime('UTC') DEFAULT now()
)
ENGINE = ReplacingMergeTree(seen_at)
ORDER BY action_id
TTL seen_at + INTERVAL $dedup_horizon_days DAY
SETTINGS merge_with_ttl_timeout = $ttl_merge_seconds;

-- Billing aggregates: one row per (customer, hour of started_at) and state
-- version; the highest version is the window's current state (read FINAL).
-- The version is the highest source offset folded into the window, so a
-- replayed batch never counts twice and its rewrite is idempotent.
CREATE TABLE IF NOT EXISTS $database.usage_hourly
(
    customer_id  UInt32,
    hour         DateTime('UTC'),
    -- 128 bits: an action may carry up to 2^63-1 bytes, so sums can pass 2^64.
    bytes_in     UInt128,
    bytes_out    UInt128,
    actions      UInt64,
    error_actions UInt64,
    duration_ms  UInt64,
    version      UInt64,
    updated_at   DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(hour)
ORDER BY (customer_id, hour)
TTL hour + INTERVAL $actions_retention_days DAY
SETTINGS merge_with_ttl_timeout = $ttl_merge_seconds;

-- Capacity planning: per action type and minute, no customer data.
CREATE TABLE IF NOT EXISTS $database.capacity_minutely
(
    action       LowCardinality(String),
    minute       DateTime('UTC'),
    actions      UInt64,
    error_actions UInt64,
    bytes_in     UInt64,
    bytes_out    UInt64,
    duration_p50_ms Float64,
    duration_p95_ms Float64,
    duration_p99_ms Float64,
    version      UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(minute)
ORDER BY (action, minute)
TTL minute + INTERVAL $capacity_retention_days DAY
SETTINGS merge_with_ttl_timeout = $ttl_merge_seconds;

-- Web access log (clause 3.1): query strings are stripped before storage.
CREATE TABLE IF NOT EXISTS $database.web_requests
(
    ts          DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
    request_id  UUID,
    path        String CODEC(ZSTD(1)),
    bytes_sent  UInt64 CODEC(T64, ZSTD(1)),
    user_agent  String CODEC(ZSTD(1)),
    client_ip   IPv6 CODEC(ZSTD(1)),
    host        LowCardinality(String),
    status      UInt16
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (ts, request_id)
TTL toDateTime(ts) + INTERVAL $web_retention_days DAY
SETTINGS merge_with_ttl_timeout = $ttl_merge_seconds;

-- Form submissions (clause 3.3): metadata only, never the form's content.
CREATE TABLE IF NOT EXISTS $database.form_submissions
(
    ts                DateTime64(3, 'UTC'),
    submission_id     UUID,
    form              LowCardinality(String),
    client_ip         IPv6,
    user_agent        String CODEC(ZSTD(1)),
    screen_resolution LowCardinality(String),
    isp               LowCardinality(String)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (ts, submission_id)
TTL toDateTime(ts) + INTERVAL $forms_retention_days DAY
SETTINGS merge_with_ttl_timeout = $ttl_merge_seconds;

-- The consent ledger (clause 3.6): every decision, the latest one counts.
CREATE TABLE IF NOT EXISTS $database.consent_log
(
    login       String,
    ts          DateTime64(3, 'UTC'),
    consent_id  UUID,
    customer_id UInt32,
    purpose     LowCardinality(String),
    granted     Bool,
    source      String
)
ENGINE = ReplacingMergeTree
ORDER BY (login, ts, consent_id);

-- Rejected events with their reason (values of unknown fields redacted).
CREATE TABLE IF NOT EXISTS $database.dead_letters
(
    at          DateTime64(3, 'UTC'),
    topic       LowCardinality(String),
    partition   UInt16,
    offset      UInt64,
    reason      LowCardinality(String),
    detail      String,
    field       String,
    original    String CODEC(ZSTD(3)),
    original_truncated Bool
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(at)
ORDER BY (topic, partition, offset)
TTL toDateTime(at) + INTERVAL $dead_letter_retention_days DAY
SETTINGS merge_with_ttl_timeout = $ttl_merge_seconds
