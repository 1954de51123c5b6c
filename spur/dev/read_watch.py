"""The local store's watch over reads: none runs much past its time limit.

ClickHouse checks a read's time limit between blocks and inside most
functions; work inside one block that no check reaches runs on past the
limit, past a cancel and after its client is gone (measured: ten rows of
``editDistance`` over 60,000 characters ran 13 s against a 3 s limit,
marked cancelled by ``KILL QUERY`` from its sixth second on), and the
engine's threads cannot be stopped one by one. So the store's server asks
the engine every second which reads run, and a read

- past its limit plus :data:`CANCEL_AFTER_SECONDS` is cancelled, which ends
  whatever the engine can end;
- past its limit plus :data:`CUT_AFTER_SECONDS` has its connection closed by
  the store's gate, where there is one: that ends a read waiting for its
  client (measured: a query sent without the packets that must follow it
  waits the server's 300 s, using no CPU, and ignores its cancel);
- past its limit plus :data:`END_ENGINE_AFTER_SECONDS` ignored both:
  the server ends the engine and starts it again on the same port (about a
  second without a store; writers retry and stay exact, as after any kill
  of the engine; other reads running at that moment fail).

The password-less ``default`` account (reachable where the engine is not
gated) has no time limit in its profile, since the engine's serving call
takes that profile and must run forever; its queries get the readers'
limit here. spur's own accounts (the writer, the admin) are not watched.

Blocking: :meth:`ReadWatch.check` runs two short queries. Raises nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

from spur.local_state import ADMIN, WRITER, Credentials
from spur_sinks.driver import driver_client
from spur_sinks.running_reads import RunningRead, cancel_older, running_reads

CANCEL_AFTER_SECONDS = 2.0
CUT_AFTER_SECONDS = 5.0
END_ENGINE_AFTER_SECONDS = 10.0
# Failed checks in a row (one a second) before the log says so: an engine
# starting again fails a few.
FAILURES_TO_REPORT = 10

# spur's own accounts: their work is not a reader's.
_OURS = (WRITER, ADMIN)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Overruns:
    to_cancel: tuple[RunningRead, ...]
    to_cut: tuple[RunningRead, ...]
    # The longest read that ran on although it was cancelled, if one did.
    ignored_its_cancel: RunningRead | None


def overruns(reads: Sequence[RunningRead], limit_seconds: float) -> Overruns:
    """Which of ``reads`` to cancel, and whether one makes the engine end."""
    to_cancel = tuple(r for r in reads if r.elapsed_seconds > limit_seconds + CANCEL_AFTER_SECONDS)
    to_cut = tuple(r for r in to_cancel if r.elapsed_seconds > limit_seconds + CUT_AFTER_SECONDS)
    stuck = [r for r in to_cut if r.elapsed_seconds > limit_seconds + END_ENGINE_AFTER_SECONDS]
    return Overruns(to_cancel, to_cut, max(stuck, key=lambda r: r.elapsed_seconds, default=None))


class ReadWatch:
    """One connection to the engine as the admin, kept between checks. ``cut``
    closes the connections the engine sees from the given ports (the gate's
    :meth:`spur.dev.store_gate.Gate.cut`); None where the engine is not gated."""

    def __init__(
        self,
        port: int,
        creds: Credentials,
        limit_seconds: float,
        cut: Callable[[Collection[int]], int] | None = None,
    ) -> None:
        self.limit_seconds = limit_seconds
        self._cut = cut
        self._client: Any = driver_client()(
            host="127.0.0.1", port=port, user=ADMIN, password=creds.passwords[ADMIN],
            connect_timeout=2, send_receive_timeout=5,
        )  # fmt: skip
        self._cancelled: set[int] = set()
        self._failures = 0

    def check(self) -> str | None:
        """Why the engine must be ended (a read it cannot cancel), or None."""
        try:
            found = overruns(running_reads(self._client, _OURS), self.limit_seconds)
            if found.to_cancel:
                cancel_older(self._client, _OURS, self.limit_seconds + CANCEL_AFTER_SECONDS)
        except Exception as exc:  # an engine starting or ending: the next check sees
            self._client.disconnect()
            self._failed(exc)
            return None
        self._failures = 0
        for read in found.to_cancel:
            if read.id_hash not in self._cancelled:
                log.warning(
                    "cancelled a read of %s running %.0f s past its limit of %.0f s",
                    read.user, read.elapsed_seconds - self.limit_seconds, self.limit_seconds,
                )  # fmt: skip
        self._cancelled = {read.id_hash for read in found.to_cancel}
        if self._cut is not None and found.to_cut and self._cut([r.port for r in found.to_cut]):
            log.warning("closed the connections of %d read(s) that ignored their cancel",
                        len(found.to_cut))  # fmt: skip
        stuck = found.ignored_its_cancel
        if stuck is None:
            return None
        return (
            f"a read of {stuck.user} ran {stuck.elapsed_seconds:.0f} s against a limit of "
            f"{self.limit_seconds:.0f} s and ignored its cancel"
        )

    def _failed(self, exc: Exception) -> None:
        """Said once per :data:`FAILURES_TO_REPORT` checks in a row: a watch that cannot
        check does not end reads, and the log must show it."""
        self._failures += 1
        if self._failures % FAILURES_TO_REPORT == 0:
            log.warning("the read watch could not check the engine %d times: %s",
                        self._failures, exc)  # fmt: skip

    def close(self) -> None:
        self._client.disconnect()
