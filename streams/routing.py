"""Which partition a message belongs on: Kafka's murmur2 partitioner, in pure Python and numpy.

A topic's canonical partition for a key is what the Java producer's default
partitioner (and spur's client, aiokafka's default, and librdkafka's
``murmur2_random``) picks: ``(murmur2(key) & 0x7fffffff) % partitions``.
The worker compares every input message's partition with its canonical one
(docs/guarantees.md, "Scale does not matter"); the batch of actions is hashed
at once with numpy, since every action key is a 36-byte UUID text and a
per-message Python hash would cost several microseconds each.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

_SEED = 0x9747B28C
_M = 0x5BD1E995
_MASK = 0xFFFFFFFF

# Where the 32 hex digits of a UUID go in its 36-byte canonical text.
_DIGIT_COLUMNS = np.array([c for c in range(36) if c not in (8, 13, 18, 23)])


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 of ``data`` (as Java's ``Utils.murmur2``), unsigned 32 bits."""
    length = len(data)
    h = (_SEED ^ length) & _MASK
    whole = length - length % 4
    for i in range(0, whole, 4):
        k = int.from_bytes(data[i : i + 4], "little")
        k = (k * _M) & _MASK
        k ^= k >> 24
        k = (k * _M) & _MASK
        h = ((h * _M) & _MASK) ^ k
    tail = data[whole:]
    if tail:
        for position in range(len(tail) - 1, -1, -1):
            h ^= tail[position] << (8 * position)
        h = (h * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    h ^= h >> 15
    return h


def partition_of(key: bytes, partitions: int) -> int:
    """The canonical partition of ``key`` among ``partitions``."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


def uuid_texts(ids: Sequence[uuid.UUID]) -> npt.NDArray[np.uint8]:
    """The canonical 36-byte texts of ``ids`` (lowercase, hyphenated), one row each."""
    digits = b"".join([i.bytes for i in ids]).hex().encode()  # hex() runs in C
    texts = np.full((len(ids), 36), ord("-"), np.uint8)
    texts[:, _DIGIT_COLUMNS] = np.frombuffer(digits, np.uint8).reshape(len(ids), 32)
    return texts


def partitions_of_uuids(ids: Sequence[uuid.UUID], partitions: int) -> npt.NDArray[np.int64]:
    """The canonical partition of each id's text key (36 bytes: nine whole words, no tail)."""
    if not ids:
        return np.zeros(0, np.int64)
    words = uuid_texts(ids).view("<u4").astype(np.uint64)
    m = np.uint64(_M)
    mask = np.uint64(_MASK)
    h = np.full(len(ids), (_SEED ^ 36) & _MASK, np.uint64)
    for column in range(words.shape[1]):
        k = (words[:, column] * m) & mask
        k ^= k >> np.uint64(24)
        k = (k * m) & mask
        h = ((h * m) & mask) ^ k
    h ^= h >> np.uint64(13)
    h = (h * m) & mask
    h ^= h >> np.uint64(15)
    return ((h & np.uint64(0x7FFFFFFF)) % np.uint64(partitions)).astype(np.int64)
