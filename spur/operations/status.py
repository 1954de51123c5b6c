"""``spur status``: the broker's lag, the store's tables and disk, each failure with a hint.

Blocking reads of the store (spur_sinks.status, within the caller's connection
timeout) and of the broker (15 s at most). Raises nothing: every failure is
reported in the document, with a hint that says what to do.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spur.broker import NoBrokerError
from spur.client.kafka import KafkaTarget
from spur.local_state import RunningStore
from spur_sinks.status import table_status
from spur_sinks.store import Store, StoreError
from spur_sinks.store_errors import NETWORK_ERROR, NOT_ENOUGH_SPACE, TIMEOUTS, UNKNOWN_DATABASE

# A store with less free space than this cannot write a batch's parts: full.
DISK_FULL_BYTES = 64 * 1024**2


def broker_status(
    bootstrap: KafkaTarget | NoBrokerError, group: str, topics: list[str]
) -> dict[str, Any]:
    """The group's lag per topic; or why no broker can be used (the error given)."""
    from aiokafka.errors import KafkaError

    from spur.broker import consumer_lag

    if isinstance(bootstrap, NoBrokerError):
        return {"reachable": False, "error": str(bootstrap), "hint": bootstrap.hint}
    # The status line says why the broker is unreachable; aiokafka's own log of
    # each failed connection would only repeat it.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    try:
        lag = asyncio.run(asyncio.wait_for(consumer_lag(bootstrap, group, topics), 15))
    except (KafkaError, TimeoutError, OSError) as exc:
        error = str(exc) or type(exc).__name__
        return {
            "reachable": False,
            "bootstrap": str(bootstrap),
            "error": error,
            "hint": "is the broker running? `spur dev up` starts the local one; "
            "otherwise check SPUR_KAFKA_BOOTSTRAP and the broker's log",
        }
    return {"reachable": True, "bootstrap": str(bootstrap), "consumer_lag": lag}


@dataclass(frozen=True)
class DiskSpace:
    path: str
    free_bytes: int
    total_bytes: int

    @property
    def full(self) -> bool:
        return self.free_bytes < DISK_FULL_BYTES


def local_disk(directory: Path) -> DiskSpace | None:
    """The free space where the local store keeps its data (None: not there)."""
    try:
        usage = shutil.disk_usage(directory)
    except OSError:
        return None
    return DiskSpace(str(directory), usage.free, usage.total)


def store_status(
    store: Store, *, local: RunningStore | None = None, disk: DiskSpace | None = None
) -> dict[str, Any]:
    """Whether the store answers and can take writes; ``local``: the local store's
    process (a connection refused while it runs means its listener was stopped)."""
    try:
        document: dict[str, Any] = {"reachable": True, "tables": table_status(store)}
    except StoreError as exc:
        if exc.code == UNKNOWN_DATABASE:  # reachable, but no worker made spur's tables yet
            document = {"reachable": True, "tables": [], "note": str(exc)}
        else:
            hint = store_hint(exc.code, local, dropped="Unexpected EOF" in str(exc))
            return {"reachable": False, "error": str(exc), "hint": hint}
    if not document["tables"] and "note" not in document:
        document["note"] = "no tables yet: a `spur worker` creates them when it starts"
    if disk is not None:
        document["disk"] = {"path": disk.path, "free_bytes": disk.free_bytes,
                            "total_bytes": disk.total_bytes, "full": disk.full}  # fmt: skip
        if disk.full:
            document["writable"] = False
            document["error"] = f"disk full: {disk.free_bytes:,} bytes free at {disk.path}"
            document["hint"] = store_hint(NOT_ENOUGH_SPACE, local)
    return document


def store_hint(code: int | None, local: RunningStore | None, *, dropped: bool = False) -> str:
    """What to do about a store that failed with ClickHouse error ``code`` (``dropped``:
    the connection was closed before an answer)."""
    where = f"the local store (pid {local.pid})" if local else "the store"
    if dropped and local is not None:
        return (
            f"{where} dropped the connection: it starts its engine again by itself when the "
            "engine ended or stopped listening (within seconds); run `spur status` again, "
            "and if it stays so, `spur dev down && spur dev up`"
        )
    if code == NOT_ENOUGH_SPACE:
        return (
            f"free space on the disk of {where}: workers retry their inserts and lose "
            "nothing, but the pipeline stalls until there is room"
        )
    if code in TIMEOUTS:
        return (
            f"{where} accepted the connection but did not answer in time: it may be hung "
            "(stopped, swapping) or overloaded; check its process and its log"
        )
    if code == NETWORK_ERROR and local is not None:
        return (
            f"{where} runs but does not listen on 127.0.0.1:{local.port} (its listener was "
            "stopped): restart it with `spur dev down && spur dev up`; workers reconnect by "
            "themselves"
        )
    if code == NETWORK_ERROR:
        return "is the store running? check SPUR_CLICKHOUSE_URL and the server's log"
    return "see the error; the store's log says more"
