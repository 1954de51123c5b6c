"""``spur status``: the store's tables and the broker's consumer lag.

Blocking reads of the store (sinks.status) and of the broker (15 s at most).
"""

from __future__ import annotations

import asyncio
from typing import Any

from sinks.status import table_status
from sinks.store import Store, StoreError
from spur.broker import NoBrokerError
from spur.client.kafka import KafkaTarget

_UNKNOWN_DATABASE = 81


def broker_status(
    bootstrap: KafkaTarget | NoBrokerError, group: str, topics: list[str]
) -> dict[str, Any]:
    """The group's lag per topic; or why no broker can be used (the error given)."""
    from aiokafka.errors import KafkaError

    from spur.broker import consumer_lag

    if isinstance(bootstrap, NoBrokerError):
        return {"reachable": False, "error": str(bootstrap)}
    try:
        lag = asyncio.run(asyncio.wait_for(consumer_lag(bootstrap, group, topics), 15))
    except (KafkaError, TimeoutError, OSError) as exc:
        error = str(exc) or type(exc).__name__
        return {"reachable": False, "bootstrap": str(bootstrap), "error": error}
    return {"reachable": True, "bootstrap": str(bootstrap), "consumer_lag": lag}


def store_status(store: Store) -> dict[str, Any]:
    try:
        return {"reachable": True, "tables": table_status(store)}
    except StoreError as exc:
        if exc.code == _UNKNOWN_DATABASE:  # reachable, but no worker made spur's tables yet
            return {"reachable": True, "tables": [], "note": str(exc)}
        return {"reachable": False, "error": str(exc)}
