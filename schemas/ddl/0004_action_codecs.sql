-- Smaller raw actions (measured by bench.storage on simulated production-like ids):
-- clients mint UUIDv7 ids from a per-process seeded counter (spur.client.ids), which
-- ZSTD compresses far better than LZ4 (action_id 9.3 -> 6.0 B/row); the end of
-- an action and the Kafka offset grow by small steps (Delta). Only new parts
-- are written this way; merges rewrite old ones.
ALTER TABLE $database.actions
    MODIFY COLUMN action_id UUID CODEC(ZSTD(3)),
    MODIFY COLUMN parent_action_id UUID CODEC(ZSTD(3)),
    MODIFY COLUMN ended_at DateTime64(3, 'UTC') CODEC(Delta, ZSTD(3)),
    MODIFY COLUMN session_id String CODEC(ZSTD(3)),
    MODIFY COLUMN kafka_offset UInt64 CODEC(Delta, ZSTD(3));
