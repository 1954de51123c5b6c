"""Kafka's murmur2 partitioner over a whole batch of keys, with numpy.

The canonical partition of a key (spur_schemas.partitioning, one key at a time)
is ``(murmur2(key) & 0x7fffffff) % partitions``. The worker compares every
input message's partition with its canonical one
(docs/design.md#any-key-any-number-of-workers); the batch of actions is hashed at once with
numpy, since every action key is a 36-byte UUID text and a per-message
Python hash costs microseconds.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from spur_schemas.partitioning import MASK, SEED, M

# Where the 32 hex digits of a UUID go in its 36-byte canonical text.
_DIGIT_COLUMNS = np.array([c for c in range(36) if c not in (8, 13, 18, 23)])


def uuid_texts(ids: Sequence[uuid.UUID]) -> npt.NDArray[np.uint8]:
    """The canonical 36-byte texts of ``ids`` (lowercase, hyphenated), one row each."""
    digits = b"".join([i.bytes for i in ids]).hex().encode()  # hex() runs in C
    texts = np.full((len(ids), 36), ord("-"), np.uint8)
    texts[:, _DIGIT_COLUMNS] = np.frombuffer(digits, np.uint8).reshape(len(ids), 32)
    return texts


def uuid_strings(ids: Sequence[uuid.UUID]) -> list[str]:
    """``[str(i) for i in ids]``, without ``UUID.__str__``'s Python per id."""
    text = uuid_texts(ids).tobytes().decode("ascii")
    return [text[start : start + 36] for start in range(0, len(text), 36)]


def partitions_of_uuids(ids: Sequence[uuid.UUID], partitions: int) -> npt.NDArray[np.int64]:
    """The canonical partition of each id's text key (36 bytes: nine whole words, no tail)."""
    if not ids:
        return np.zeros(0, np.int64)
    return _partitions(_murmur2_rows(uuid_texts(ids)), partitions)


def partitions_of_keys(keys: Sequence[bytes], partitions: int) -> npt.NDArray[np.int64]:
    """The canonical partition of each of ``keys``, of any lengths (window states' keys).

    Keys of one length are hashed together: a batch's keys come in a few lengths.
    """
    found = np.zeros(len(keys), np.int64)
    by_length: dict[int, list[int]] = {}
    for position, key in enumerate(keys):
        by_length.setdefault(len(key), []).append(position)
    for length, positions in by_length.items():
        rows = np.frombuffer(b"".join([keys[p] for p in positions]), np.uint8)
        found[positions] = _partitions(
            _murmur2_rows(rows.reshape(len(positions), length)), partitions
        )
    return found


def _murmur2_rows(rows: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint64]:
    """Kafka's murmur2 of every row of equally long keys (spur_schemas.partitioning.murmur2)."""
    count, length = rows.shape
    whole = length - length % 4
    m = np.uint64(M)
    mask = np.uint64(MASK)
    h = np.full(count, (SEED ^ length) & MASK, np.uint64)
    words = np.ascontiguousarray(rows[:, :whole]).view("<u4").astype(np.uint64)
    for column in range(words.shape[1]):
        k = (words[:, column] * m) & mask
        k ^= k >> np.uint64(24)
        k = (k * m) & mask
        h = ((h * m) & mask) ^ k
    if length > whole:
        for position in range(length - whole - 1, -1, -1):
            h ^= rows[:, whole + position].astype(np.uint64) << np.uint64(8 * position)
        h = (h * m) & mask
    h ^= h >> np.uint64(13)
    h = (h * m) & mask
    h ^= h >> np.uint64(15)
    return h


def _partitions(hashes: npt.NDArray[np.uint64], partitions: int) -> npt.NDArray[np.int64]:
    return ((hashes & np.uint64(0x7FFFFFFF)) % np.uint64(partitions)).astype(np.int64)
