"""Kafka's murmur2 partitioner over a whole batch of action ids, with numpy.

The canonical partition of a key (spur_schemas.partitioning, one key at a time)
is ``(murmur2(key) & 0x7fffffff) % partitions``. The worker compares every
input message's partition with its canonical one (docs/guarantees.md,
"Scale does not matter"); the batch of actions is hashed at once with
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
    words = uuid_texts(ids).view("<u4").astype(np.uint64)
    m = np.uint64(M)
    mask = np.uint64(MASK)
    h = np.full(len(ids), (SEED ^ 36) & MASK, np.uint64)
    for column in range(words.shape[1]):
        k = (words[:, column] * m) & mask
        k ^= k >> np.uint64(24)
        k = (k * m) & mask
        h = ((h * m) & mask) ^ k
    h ^= h >> np.uint64(13)
    h = (h * m) & mask
    h ^= h >> np.uint64(15)
    return ((h & np.uint64(0x7FFFFFFF)) % np.uint64(partitions)).astype(np.int64)
