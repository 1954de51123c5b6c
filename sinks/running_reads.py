"""Reads running on a store, and cancelling them (for the local store's watch).

The local store's server (spur.dev.read_watch) asks the engine every second
which reads run, as its admin account, and ends those past their time limit.

Blocking (one short query each). Raises what clickhouse-driver raises.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

# Everything but the engine's own serving call (empty user name) and the
# accounts whose work is spur's own (writers, the admin's DDL and erasures).
_RUNNING_READS = (
    "SELECT query_id, user, elapsed FROM system.processes "
    "WHERE user != '' AND user NOT IN %(exempt)s"
)
_CANCEL = "KILL QUERY WHERE query_id IN %(ids)s ASYNC"


@dataclass(frozen=True)
class RunningRead:
    query_id: str
    user: str
    elapsed_seconds: float


def running_reads(client: Any, exempt: Collection[str]) -> list[RunningRead]:
    """The queries running on ``client``'s server but those of ``exempt`` accounts."""
    rows = client.execute(_RUNNING_READS, {"exempt": tuple(exempt)})
    return [RunningRead(query_id, user, float(elapsed)) for query_id, user, elapsed in rows]


def cancel(client: Any, reads: Sequence[RunningRead]) -> None:
    """Mark ``reads`` cancelled (they end at the engine's next check, if it makes one)."""
    if reads:
        client.execute(_CANCEL, {"ids": tuple(read.query_id for read in reads)})
