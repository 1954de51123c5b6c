-- Audit of erasure requests (clause 3.4): who was erased, when, and how many
-- rows per table; the subject is kept only as a salted hash, never in clear.
CREATE TABLE IF NOT EXISTS $database.erasure_log
(
    erased_at     DateTime64(3, 'UTC'),
    erasure_id    UUID,
    subject_kind  Enum8('customer' = 1, 'login' = 2),
    subject_hash  FixedString(64),
    rows_removed  Map(LowCardinality(String), UInt64),
    kafka_expires_at DateTime('UTC')
)
ENGINE = MergeTree
ORDER BY (erased_at, erasure_id)
