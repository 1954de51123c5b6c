-- Raw actions store their id as two numbers (measured by bench.storage on
-- simulated production-like ids: action_id 5.9 -> 2.4 B per row, the table
-- 21.7 -> 18.3). Clients mint UUIDv7 ids (spur.client.ids), whose high half
-- holds the millisecond they were minted, which is the action's start: the
-- high half is stored less the start's millisecond in that place, as a
-- signed number (small for such ids, also minted a little before or after
-- the start; any id, v4 or other, is kept exactly, modulo 2^64),
-- the low half as it is. action_id is computed back from them; inserts name
-- action_id_in, from which the halves are computed. ClickHouse cannot change
-- a sorting key's columns, so the table is built again under another name
-- (its replication path is its own on a cluster), the rows copied, and the
-- two exchanged. Creating actions_0011 is the lock: a second worker
-- migrating at the same time fails there and tries again, and finds the
-- migration recorded (here, before the lock is dropped). Before the copy,
-- the old table refuses every insert (a constraint no row meets) and is
-- detached (SYNC: once no query uses it) and attached again, so no insert
-- that started before the constraint is still under way: an
-- old worker still running cannot store a row the copy misses (it retries,
-- and fails for good once the tables are exchanged; a helper measured 3,000
-- raw rows lost without this). After a crash halfway, actions_0011 is left
-- (a partial copy, or the old table after the exchange: either way safe to
-- drop) and workers fail to start until it is dropped (docs/upgrading.md).
CREATE TABLE $database.actions_0011
(
    customer_id      UInt32                CODEC(ZSTD(1)),
    started_at       DateTime64(3, 'UTC')  CODEC(Delta, ZSTD(3)),
    action_id_high   Int64 DEFAULT toUInt64(bitShiftRight(toUInt128(action_id_in), 64))
                            - bitShiftLeft(toUInt64(toUnixTimestamp64Milli(started_at)), 16)
                                           CODEC(T64, ZSTD(1)),
    action_id_low    UInt64 DEFAULT toUInt64(bitAnd(toUInt128(action_id_in), toUInt128('18446744073709551615')))
                                           CODEC(ZSTD(1)),
    action_id_in     UUID EPHEMERAL,
    action_id        UUID ALIAS reinterpretAsUUID(concat(
                         reinterpretAsFixedString(reinterpretAsUInt64(action_id_high)
                             + bitShiftLeft(toUInt64(toUnixTimestamp64Milli(started_at)), 16)),
                         reinterpretAsFixedString(action_id_low))),
    ended_at         DateTime64(3, 'UTC')  ALIAS started_at + toIntervalMillisecond(duration_ms),
    duration_ms      UInt64 DEFAULT 0      CODEC(T64, ZSTD(1)),
    parent_action_id UUID                  CODEC(ZSTD(3)),
    action           LowCardinality(String) CODEC(ZSTD(1)),
    login            String                CODEC(ZSTD(3)),
    session_id       String                CODEC(ZSTD(3)),
    bytes_in         UInt64                CODEC(T64, ZSTD(1)),
    bytes_out        UInt64                CODEC(T64, ZSTD(1)),
    client_ip        IPv6                  CODEC(ZSTD(1)),
    data_kind        LowCardinality(String) CODEC(ZSTD(1)),
    data_count       UInt64                CODEC(ZSTD(1)),
    status           Enum8('ok' = 1, 'error' = 2) CODEC(ZSTD(1)),
    error_code       LowCardinality(String) CODEC(ZSTD(1)),
    server           LowCardinality(String) CODEC(ZSTD(1)),
    profile          Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    kafka_partition  UInt16                CODEC(T64, ZSTD(1)),
    kafka_offset     UInt64                CODEC(Delta, ZSTD(1))
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(started_at)
ORDER BY (customer_id, started_at, action_id_high, action_id_low)
TTL toDateTime(started_at) + INTERVAL $actions_retention_days DAY
SETTINGS merge_with_ttl_timeout = $ttl_merge_seconds, min_compress_block_size = 1048576;

ALTER TABLE $database.actions
    ADD CONSTRAINT IF NOT EXISTS refused_while_0011_copies CHECK 0;

DETACH TABLE $database.actions SYNC;

ATTACH TABLE $database.actions;

INSERT INTO $database.actions_0011
    (customer_id, started_at, action_id_in, duration_ms, parent_action_id, action, login,
     session_id, bytes_in, bytes_out, client_ip, data_kind, data_count, status, error_code,
     server, profile, kafka_partition, kafka_offset)
SELECT customer_id, started_at, action_id, duration_ms, parent_action_id, action, login,
       session_id, bytes_in, bytes_out, client_ip, data_kind, data_count, status, error_code,
       server, profile, kafka_partition, kafka_offset
FROM $database.actions;

EXCHANGE TABLES $database.actions AND $database.actions_0011;

INSERT INTO $database.schema_migrations (version, name) VALUES (11, 'action_id_halves');

DROP TABLE IF EXISTS $database.actions_0011
