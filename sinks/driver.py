"""clickhouse-driver, imported as every spur process should import it."""

from __future__ import annotations

import functools
import os
from typing import Any

__all__ = ["driver_client"]


@functools.cache
def driver_client() -> Any:
    """clickhouse-driver's ``Client`` class, imported without its table of dates.

    On import the driver builds a dictionary of every date from 1900 to 2299
    both ways (23 MB in every process that talks to a store, and 90 ms of
    start-up) unless this variable, spelled so by the driver, asks for one
    filled as dates are met; the dates it computes are the same.
    """
    os.environ.setdefault("CLICKHOUSE_DRIVER_LASY_DATE_LUT", "1970-01-01:1970-01-01")
    from clickhouse_driver import Client

    class TrackingAtTheStart(Client):  # type: ignore[misc]  # untyped library class
        """The driver's client, looking for ``USE`` at the query's start only.

        Before every query the driver lowercases the whole text to see whether
        it begins with ``use `` (to reconnect into that database): an insert's
        text holds its rows, megabytes a batch (1.6% of a worker's samples).
        Only where the text begins so is the driver's own check run.
        """

        def track_current_database(self, query: str) -> None:
            if query.lstrip("; ")[:4].lower() == "use ":
                super().track_current_database(query)

    return TrackingAtTheStart
