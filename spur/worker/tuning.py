"""The interpreter settings every process of a worker runs the batch under, and its logs.

Garbage collection: a batch allocates ~10 objects per event. With the
default threshold (700 allocations) the collector runs dozens of times per
batch and each pass walks every live object: measured, a quarter of the
batch step's time. Objects alive at start (modules, the app) are frozen out
of the passes altogether.

Memory: glibc's threshold for giving big blocks back to the OS stays at
1 MiB (:func:`fix_mmap_threshold`).

Left at its default: the thread switch interval (5 ms). When the next
batch was validated in one thread while another waited for the store (an
overlap since taken out, spur.worker.consume), a store call of about 1 ms
took ~45 ms; a 0.5 ms interval cut that to ~11 ms but made the whole run
slower (31,043 against 38,203 actions/s, back to back), the switching
costing more than the waits it saved.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging


def tune_interpreter() -> None:
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
    fix_mmap_threshold()


def fix_mmap_threshold() -> bool:
    """glibc's malloc: blocks of 1 MiB and more always from (and back to) the OS.

    Why: glibc raises its threshold to the size of any such block freed
    (up to 32 MiB), so after the first batch a batch's big buffers (its
    inserts' JSON, ~9 MB) came from the heap, whose freed middle it keeps:
    anonymous RSS 271 against 222-226 MB at 600k actions, one process
    (bench.worker, 2026-12-07). At 128 KiB (glibc's start) the slices'
    column lists and JSON pieces went to the OS too: 51,028 against
    56,449-60,648 actions/s. False where the C library is not glibc.
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, 1024 * 1024))


_M_MMAP_THRESHOLD = -3  # glibc's malloc.h; setting it also stops the raising


def quiet_driver_logs() -> None:
    """The store driver's warnings (each failed connect with its traceback) are left out:
    every failed store call is logged once by the worker's retries (spur_sinks.writer)."""
    logging.getLogger("clickhouse_driver").setLevel(logging.ERROR)
