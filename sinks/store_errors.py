"""What a failed ClickHouse call means: its error code, whether to retry, what to do.

Blocking: nothing. Raises nothing.
"""

from __future__ import annotations

import re

from spur_schemas.errors import UnavailableError

# ClickHouse's error codes that spur acts on, by their names in ClickHouse.
TABLE_ALREADY_EXISTS = 57
UNKNOWN_TABLE = 60
UNKNOWN_DATABASE = 81
TIMEOUT_EXCEEDED = 159
READONLY = 164
TOO_MANY_SIMULTANEOUS_QUERIES = 202
SOCKET_TIMEOUT = 209
NETWORK_ERROR = 210  # also: the connection was refused
NOT_ENOUGH_SPACE = 243
TOO_MANY_ROWS_OR_BYTES = 396
ACCESS_DENIED = 497
TIMEOUTS = frozenset({TIMEOUT_EXCEEDED, SOCKET_TIMEOUT})

# Codes of errors that are about the request, not the moment: retrying the
# same statement cannot succeed (syntax, unknown table/column, type, readonly).
_PERMANENT_CODES = frozenset(
    {27, 36, 41, 43, 44, 46, 47, 53, 60, 62, 70, UNKNOWN_DATABASE, READONLY, ACCESS_DENIED}
)
_CODE = re.compile(r"Code: (\d+)")


class StoreError(UnavailableError, RuntimeError):
    """A ClickHouse statement failed. ``code`` is ClickHouse's error code, if any."""

    def __init__(self, message: str, code: int | None = None) -> None:
        # A subclass's own hint (e.g. no local store: how to start one) says more.
        known = _HINTS.get(code) if code is not None and self.default_hint is None else None
        super().__init__(message, hint=known)
        self.code = code

    @property
    def retriable(self) -> bool:
        return self.code not in _PERMANENT_CODES

    @classmethod
    def wrap(cls, exc: Exception, what: str) -> StoreError:
        text = str(exc)
        match = _CODE.search(text)
        code = getattr(exc, "code", None) or (int(match.group(1)) if match else None)
        # clickhouse-driver puts "Code: N." on a line of its own, then the
        # server's message, then a stack trace: keep code and message.
        lines = [line.strip() for line in text.split("Stack trace:", 1)[0].splitlines()]
        lines = [line for line in lines if line]
        if len(lines) > 1 and _CODE.fullmatch(lines[0].rstrip(".")):
            lines = [f"{lines[0]} {lines[1]}"]
        first_line = lines[0].removesuffix(".").rstrip() if lines else type(exc).__name__
        if code == UNKNOWN_DATABASE:
            first_line += " (a `spur worker` creates spur's database and tables when it starts)"
        error = cls(f"{what}: {first_line}", code)
        if code is None and "Unexpected EOF" in text and error.hint is None:
            error.hint = _DROPPED
        return error


# What to do about the failures a user meets most (ClickHouse's error codes).
_TIMED_OUT = (
    "the store did not answer in time: it is hung or overloaded, or the read ran past its "
    "time limit (SPUR_QUERY_MAX_SECONDS); try again, or check the store's process and log"
)
# The connection closed before an answer (no code): the local store's engine
# started again (ended, deaf, or a read ran 10 s past its limit), or it stopped.
_DROPPED = (
    "the store closed the connection before it answered: it may have restarted (the local "
    "store restarts its engine when a read runs past its time limit and ignores the cancel); "
    "try again, and `spur status` says what it sees"
)
_HINTS = {
    TIMEOUT_EXCEEDED: _TIMED_OUT,
    SOCKET_TIMEOUT: _TIMED_OUT,
    NETWORK_ERROR: (
        "the store refused the connection: is it running? `spur status` says what it sees"
    ),
    TOO_MANY_SIMULTANEOUS_QUERIES: (
        "this account runs as many queries at once as it may (4): try again when one has finished"
    ),
    TOO_MANY_ROWS_OR_BYTES: (
        "the result is larger than one read may return (SPUR_QUERY_MAX_ROWS rows or "
        "256 MiB): filter, aggregate or add a LIMIT"
    ),
    NOT_ENOUGH_SPACE: (
        "the store's disk is full: free space; workers retry and lose nothing meanwhile"
    ),
}
