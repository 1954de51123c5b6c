"""What the local store's gate does with a connection it forwarded (spur.dev.store_gate):
copy its bytes, log refusals without filling the disk.

Blocking: :func:`copy_until` until either side ends. Raises nothing.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator

log = logging.getLogger("spur.dev.store_gate")

CHUNK = 256 * 1024


class RefusalLog:
    """Refused connections logged at most once per REFUSALS_LOG_SECONDS, with a count:
    any local user can open connections, and a line each would fill the disk."""

    def __init__(self, message: str) -> None:
        self._message = "store gate: " + message
        self._lock = threading.Lock()
        self._since, self._last = 0, -REFUSALS_LOG_SECONDS

    def refused(self, *details: str) -> None:
        with self._lock:
            self._since += 1
            if time.monotonic() - self._last < REFUSALS_LOG_SECONDS:
                return
            count, self._since, self._last = self._since, 0, time.monotonic()
        log.warning(self._message, count, *(detail[:200] for detail in details))


REFUSALS_LOG_SECONDS = 60.0


def copy_until(source: socket.socket, sink: socket.socket) -> None:
    """Bytes from ``source`` to ``sink`` until either side ends; then both are shut."""
    try:
        while chunk := source.recv(CHUNK):
            sink.sendall(chunk)
    except OSError:
        pass
    shut(source, sink)


def shut(*sides: socket.socket) -> None:
    for side in sides:
        with contextlib.suppress(OSError):
            side.shutdown(socket.SHUT_RDWR)


@contextlib.contextmanager
def released_once(semaphore: threading.BoundedSemaphore) -> Iterator[Callable[[], None]]:
    """A function that releases ``semaphore`` the first time it is called; on
    leaving the block it is released if it was not yet."""
    released = False

    def release() -> None:
        nonlocal released
        if not released:
            released = True
            semaphore.release()

    try:
        yield release
    finally:
        release()
