"""Reads running on a store, and cancelling them (for the local store's watch).

The local store's server (spur.dev.read_watch) asks the engine every second
which reads run, as its admin account, and ends those past their time limit.
Nothing a client chose goes into these statements: a query id may be
megabytes long or not text at all (measured: four 64 KiB ids made a
``KILL QUERY ... IN (ids)`` pass the server's query size, and an id that is
not UTF-8 came back as bytes the statement could not hold), so a read is
known by a hash of its id and cancelled by its age.

Blocking (one short query each). Raises what clickhouse-driver raises.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

# Everything but the engine's own serving call (empty user name) and the
# accounts whose work is spur's own (writers, the admin's DDL and erasures).
_THEIRS = "user != '' AND user NOT IN %(exempt)s"
_RUNNING_READS = (
    "SELECT cityHash64(query_id) AS id, toValidUTF8(user) AS user, elapsed, port "
    f"FROM system.processes WHERE {_THEIRS}"
)
_CANCEL = f"KILL QUERY WHERE {_THEIRS} AND elapsed > %(seconds)s ASYNC"


@dataclass(frozen=True)
class RunningRead:
    id_hash: int
    user: str
    elapsed_seconds: float
    # The client's port as the server sees it (the local store's gate knows the
    # connection by it).
    port: int = 0


def running_reads(client: Any, exempt: Collection[str]) -> list[RunningRead]:
    """The queries running on ``client``'s server but those of ``exempt`` accounts."""
    rows = client.execute(_RUNNING_READS, {"exempt": tuple(exempt)})
    return [
        RunningRead(int(id_hash), user, float(elapsed), int(port))
        for id_hash, user, elapsed, port in rows
    ]


def cancel_older(client: Any, exempt: Collection[str], seconds: float) -> None:
    """Mark every read running longer than ``seconds`` cancelled (it ends at the
    engine's next check, if it makes one)."""
    client.execute(_CANCEL, {"exempt": tuple(exempt), "seconds": seconds})
