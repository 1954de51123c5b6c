-- Erasure is final (docs/design.md#the-erasure-protocol): a tombstone per erased subject, written by
-- `spur erase` before it deletes. Workers read them every batch and drop a
-- replayed, re-sent or late action of an erased customer (from before the
-- erasure), and never store again the raw rows of an erased login's actions.
-- A login is kept only as HMAC(erasure key, login), never in clear; the key
-- is made once per store and only the writer's account can read it.
-- Kept as long as the data it guards against could still be accepted: an
-- action from before the erasure is older than the actions retention once
-- the tombstone expires, so it is refused as beyond_retention anyway.
CREATE TABLE IF NOT EXISTS $database.erased_subjects
(
    erased_at    DateTime64(3, 'UTC'),
    erasure_id   UUID,
    subject_kind Enum8('customer' = 1, 'login' = 2),
    customer_id  UInt32,
    login_key    FixedString(64)
)
ENGINE = ReplacingMergeTree
ORDER BY (subject_kind, customer_id, login_key, erasure_id)
TTL toDateTime(erased_at) + INTERVAL $actions_retention_days DAY
SETTINGS merge_with_ttl_timeout = $ttl_merge_seconds;

CREATE TABLE IF NOT EXISTS $database.erasure_keys
(
    key        String,
    created_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = MergeTree
ORDER BY created_at;

INSERT INTO $database.erasure_keys (key)
SELECT hex(randomString(32)) WHERE (SELECT count() FROM $database.erasure_keys) = 0
