"""py-spy recording running processes for a benchmark's measured window.

A :class:`Recorder` starts one ``py-spy record`` per process when told to
(bench.fleet tells it at the group's first committed progress, when the
rate's window opens) and stops them on exit, with SIGINT: py-spy writes its
file when interrupted, and only then. The files are py-spy's raw collapsed
stacks (bench.stacks summarises them). A recorder without a directory does
nothing, so callers need no branch for "not profiling".

Blocking: leaving the context waits up to 30 s for each py-spy to write its
file, then kills it (by PID). Raises OSError when py-spy cannot be run.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

# Installed beside the interpreter by the dev extra (pyproject.toml).
PY_SPY = Path(sys.executable).parent / "py-spy"
SAMPLES_PER_SECOND = 100


def record(pid: int, path: Path) -> list[str]:
    """py-spy's command line recording ``pid`` into ``path``."""
    # --nonblocking: never pause the worker to read its stacks (a few come out torn instead);
    # --subprocesses: the extra actions processes of `spur worker --processes N` too.
    return [
        str(PY_SPY), "record", "--pid", str(pid), "--subprocesses", "--format", "raw",
        "--rate", str(SAMPLES_PER_SECOND), "--nonblocking", "-o", str(path),
    ]  # fmt: skip


class Recorder:
    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self.files: list[Path] = []
        self._spies: list[subprocess.Popen[bytes]] = []

    def start(self, pids: Sequence[int]) -> None:
        """Record each of ``pids`` into ``worker-<n>.txt``, n counting from 1."""
        if self.directory is None:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        for n, pid in enumerate(pids, start=1):
            path = self.directory / f"worker-{n}.txt"
            with (self.directory / f"worker-{n}.py-spy.log").open("wb") as log:
                spy = subprocess.Popen(
                    record(pid, path), stdout=log, stderr=log, stdin=subprocess.DEVNULL
                )
            self._spies.append(spy)
            self.files.append(path)

    def stop(self) -> None:
        """SIGINT each py-spy (it writes its file), then wait; kill one that hangs."""
        for spy in self._spies:
            with contextlib.suppress(ProcessLookupError):
                spy.send_signal(signal.SIGINT)
        for spy in self._spies:
            try:
                spy.wait(timeout=30)
            except subprocess.TimeoutExpired:
                spy.kill()
                spy.wait()
        self._spies = []

    def __enter__(self) -> Recorder:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
