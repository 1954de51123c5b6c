"""The interpreter settings every process of a worker runs the batch under, and its logs.

Garbage collection: a batch allocates ~10 objects per event. With the
default threshold (700 allocations) the collector runs dozens of times per
batch and each pass walks every live object: measured, a quarter of the
batch step's time. Objects alive at start (modules, the app) are frozen out
of the passes altogether.

Left at its default: the thread switch interval (5 ms). When the next
batch was validated in one thread while another waited for the store (an
overlap since taken out, spur.worker.consume), a store call of about 1 ms
took ~45 ms; a 0.5 ms interval cut that to ~11 ms but made the whole run
slower (31,043 against 38,203 actions/s, back to back), the switching
costing more than the waits it saved.
"""

from __future__ import annotations

import gc
import logging


def tune_interpreter() -> None:
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


def quiet_driver_logs() -> None:
    """The store driver's warnings (each failed connect with its traceback) are left out:
    every failed store call is logged once by the worker's retries (spur_sinks.writer)."""
    logging.getLogger("clickhouse_driver").setLevel(logging.ERROR)
