"""The local ClickHouse store as a child process: ``spur store``, ``spur dev up``, demo, tests.

Starts ``python -m spur.dev.local_store DIR PORT [DATABASE...]`` (the server of
spur.dev.store_server, configured by spur.dev.store_config), waits until it
records itself in the directory (spur.local_state), and stops it. A store
started with ``detach`` outlives its starter (``spur dev up``); later spur
processes find it through spur.local_state.

Blocking: everything here blocks. Raises :class:`LocalStoreError` with the
log's tail when the server does not come up.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from spur.client.private import private_dir, touch_private
from spur.dev.store_server import LocalStoreError, serve
from spur.local_state import DATABASE, STORE_MODULE, RunningStore, running_store
from spur.processes import stop_pid
from spur_sinks.url import ReadLimits

# `spur store` serves in the foreground (by this module's name), and catches LocalStoreError.
__all__ = ["LocalStore", "LocalStoreError", "serve_in_foreground", "store_down", "store_up"]

LOG_TAIL_LINES = 30


class LocalStore:
    """A local store server in a child process (``spur dev up``, demo, tests)."""

    def __init__(
        self,
        directory: Path,
        databases: Sequence[str] = (DATABASE,),
        limits: ReadLimits | None = None,
    ) -> None:
        """``limits``: the readers' limits; unset, the SPUR_QUERY_* environment's."""
        self.directory = directory.resolve()
        self.databases = tuple(databases)
        self.limits = limits
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def log_path(self) -> Path:
        return self.directory / "store.log"

    def start(self, *, timeout: float = 60.0, detach: bool = False) -> RunningStore:
        """Start the server and wait until it answers; raise with the log tail if not."""
        private_dir(self.directory)
        touch_private(self.log_path)  # 0600 like the rest, whoever started the store
        with self.log_path.open("ab") as out:
            self.process = subprocess.Popen(
                server_command(self.directory, self.databases),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=detach,
                cwd=self.directory,
                env=self._environment(),
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            running = running_store(self.directory)
            if running is not None and running.pid == self.process.pid:
                return running
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        self.stop()
        raise LocalStoreError(
            f"the local ClickHouse store in {self.directory} did not start; "
            f"last lines of {self.log_path}:\n{self.log_tail()}"
        )

    def _environment(self) -> dict[str, str]:
        if self.limits is None:
            return dict(os.environ)
        return {
            **os.environ,
            "SPUR_QUERY_MAX_MEMORY_BYTES": str(self.limits.max_memory_bytes),
            "SPUR_QUERY_MAX_SECONDS": str(self.limits.max_execution_seconds),
            "SPUR_QUERY_MAX_ROWS": str(self.limits.max_result_rows),
        }

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM, wait, then SIGKILL. Safe to call twice."""
        if self.process is None:
            return
        stop_pid(self.process.pid, timeout, wait=self.process.wait)
        self.process = None


def store_up(directory: Path, databases: Sequence[str] = (DATABASE,)) -> tuple[RunningStore, bool]:
    """Start the store in the background unless it runs; the store, and whether started."""
    current = running_store(directory)
    if current is not None:
        return current, False
    return LocalStore(directory, databases).start(detach=True), True


def store_down(directory: Path) -> RunningStore | None:
    """Stop the background store of ``directory`` if it runs; the one stopped."""
    current = running_store(directory)
    if current is not None:
        stop_pid(current.pid, timeout=30.0)
    return current


def server_command(directory: Path, databases: Sequence[str], port: int = 0) -> list[str]:
    """The store's server process: the command line that spur.local_state recognises it by."""
    return [sys.executable, "-m", STORE_MODULE, str(directory.resolve()), str(port), *databases]


def serve_in_foreground(directory: Path, port: int = 0) -> None:
    """``spur store``: this process becomes the server (exec), so that every other spur
    process recognises it by its command line, as one started by ``spur dev up``."""
    sys.stdout.flush()
    sys.stderr.flush()
    command = server_command(directory, (DATABASE,), port)
    os.execv(command[0], command)  # noqa: S606  # our own interpreter, no shell


if __name__ == "__main__":
    from spur.settings import SettingsError, load_settings

    os.umask(0o077)  # everything the engine writes is private to the user
    # store.log: when each restart, cancel and refusal happened. The driver's own
    # lines (pings and reconnects of the read watch while the engine restarts)
    # say nothing the server does not say itself.
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("clickhouse_driver").setLevel(logging.CRITICAL)
    try:
        # Only the path, the port and database names on the command line; the
        # limits come from the environment (SPUR_QUERY_*), like every other setting.
        limits = load_settings().store.read_limits
        path, port, *names = sys.argv[1:]
        serve(Path(path), names or (DATABASE,), port=int(port), limits=limits)
    except (LocalStoreError, SettingsError) as exc:
        print(f"spur store: {exc}", file=sys.stderr)
        sys.exit(1)
