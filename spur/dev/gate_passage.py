"""What the local store's gate does with a connection it forwarded (spur.dev.store_gate):
copy its bytes both ways, hold a reader's request to a cap, log refusals
without filling the disk.

Blocking: :func:`copy_until` until either side ends. Raises nothing.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable

log = logging.getLogger("spur.dev.store_gate")

_CHUNK = 256 * 1024


class Turn:
    """The bytes a client sent since the engine last answered, against a cap."""

    def __init__(self, cap: int | None) -> None:
        self.cap = cap
        self.unanswered = 0

    def asked(self, size: int) -> bool:
        """Whether ``size`` more bytes from the client may pass."""
        self.unanswered += size
        return self.cap is None or self.unanswered <= self.cap

    def answered(self, size: int) -> bool:
        self.unanswered = 0
        return True


class RefusalLog:
    """Refused connections logged at most once per REFUSALS_LOG_SECONDS, with a count:
    any local user can open connections, and a line each would fill the disk."""

    def __init__(self, message: str) -> None:
        self._message = "store gate: " + message
        self._lock = threading.Lock()
        self._since, self._last = 0, -REFUSALS_LOG_SECONDS

    def refused(self, user: str) -> None:
        with self._lock:
            self._since += 1
            if time.monotonic() - self._last < REFUSALS_LOG_SECONDS:
                return
            count, self._since, self._last = self._since, 0, time.monotonic()
        log.warning(self._message, count, user[:64])


REFUSALS_LOG_SECONDS = 60.0


def copy_until(source: socket.socket, sink: socket.socket, passes: Callable[[int], bool]) -> bool:
    """Bytes from ``source`` to ``sink`` until either side ends or ``passes`` refuses a
    chunk (not sent: False); then both are shut."""
    passed = True
    try:
        while chunk := source.recv(_CHUNK):
            if not (passed := passes(len(chunk))):
                break
            sink.sendall(chunk)
    except OSError:
        pass
    shut(source, sink)
    return passed


def shut(*sides: socket.socket) -> None:
    for side in sides:
        with contextlib.suppress(OSError):
            side.shutdown(socket.SHUT_RDWR)
