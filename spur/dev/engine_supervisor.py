"""The local store's engine, kept serving by its server process.

The server (spur.dev.store_server) starts the engine (spur.dev.store_engine)
as a child process, then checks every second that it still serves and
starts it again, on the same port, when

- it ended (killed, out of memory): clients retry the address they know;
- it stopped listening: ``SYSTEM STOP LISTEN`` by the password-less account
  closes the listener but keeps the engine running, and no grant or setting
  can forbid it to that account without breaking the engine's own serving
  call (measured);
- a read ran on past its time limit although cancelled (spur.dev.read_watch):
  the engine's threads cannot be stopped one by one.

Blocking: :meth:`Supervisor.watch` until the stop event is set. Raises
:class:`spur.dev.store_errors.LocalStoreError` when the first start fails.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

from spur.dev.read_watch import ReadWatch
from spur.dev.store_config import END_SERVING_QUERY, READY_QUERY
from spur.dev.store_engine import data_dir, engine_environment, has_own_network
from spur.dev.store_errors import LocalStoreError
from spur.dev.store_gate import Gate
from spur.local_state import ADMIN, Credentials
from spur.processes import accepts_connections, stop_pid
from spur_sinks.driver import driver_client

ENGINE_MODULE = "spur.dev.store_engine"

# How often the server checks the engine, and how many refused connections in
# a row mean it does not listen (then it is started again).
WATCH_SECONDS = 1.0
DEAF_CHECKS = 2

log = logging.getLogger(__name__)


@dataclass
class Supervisor:
    directory: Path
    port: int
    creds: Credentials
    gate: Gate
    read_limit_seconds: float
    stop: threading.Event = field(default_factory=threading.Event)
    engine: subprocess.Popen[bytes] | None = None

    def start(self) -> str:
        """Start the engine; the protection it reported (spur.dev.store_engine)."""
        self.engine, protection = _start_engine(self.directory, self.port, self.creds, self.gate)
        return protection

    def watch(self) -> None:
        """Until the stop event: start the engine again when it ended, went deaf
        or cannot end a read."""
        reads = ReadWatch(self.port, self.creds, self.read_limit_seconds, self._cut)
        refused = 0
        try:
            while not self.stop.wait(WATCH_SECONDS):
                assert self.engine is not None
                if self.engine.poll() is not None:
                    self._restart(f"the store's engine ended (exit code {self.engine.returncode})")
                    continue
                gate = self.gate
                listens = gate.engine_listens() if gate.started else accepts_connections(self.port)
                refused = 0 if listens else refused + 1
                why = "the store's engine stopped listening" if refused >= DEAF_CHECKS else None
                why = why or (reads.check() if listens else None)
                if why and not self.stop.is_set():
                    refused = 0
                    stop_pid(self.engine.pid, timeout=10.0, wait=self.engine.wait)
                    self._restart(why)
        finally:
            reads.close()

    def _cut(self, engine_ports: Collection[int]) -> int:
        return self.gate.cut(engine_ports) if self.gate.started else 0

    def _restart(self, why: str) -> None:
        """A new engine, tried until one starts or the server stops: a start can fail
        for a while, e.g. with no descriptor left while another user holds thousands
        of connections."""
        log.warning("%s; starting it again", why)
        while True:
            try:
                self.start()
            except (OSError, LocalStoreError) as exc:
                log.warning("the store's engine did not start again (%s); trying again", exc)
                if self.stop.wait(WATCH_SECONDS):
                    return
            else:
                return

    def end(self) -> None:
        """End the serving query (the engine then exits by itself); kill it if it does not."""
        if self.engine is not None:
            _stop_engine(self.engine, self.port, self.creds)


def _start_engine(
    directory: Path, port: int, creds: Credentials, gate: Gate
) -> tuple[subprocess.Popen[bytes], str]:
    """The engine process, serving; and the protection it reported. An engine in a
    network of its own is reached through ``gate`` (started, or pointed at it)."""
    read_end, write_end = os.pipe()
    try:
        engine = subprocess.Popen(
            [sys.executable, "-m", ENGINE_MODULE, str(directory), str(port), str(write_end)],
            pass_fds=(write_end,),
            env=engine_environment(directory),
            stdin=subprocess.DEVNULL,
            cwd=data_dir(directory),
            preexec_fn=_die_with_parent,  # noqa: PLW1509 - the server runs no thread
        )
    finally:
        os.close(write_end)
    try:
        protection = _read_report(read_end, engine)
        if has_own_network(protection):
            netns = f"/proc/{engine.pid}/ns/net"
            gate.point_at(netns) if gate.started else gate.start(netns)
        _wait_ready(port, creds, engine)
    except BaseException:
        stop_pid(engine.pid, timeout=10.0, wait=engine.wait)
        raise
    finally:
        os.close(read_end)
    return engine, protection


def _die_with_parent() -> None:
    # A server killed with SIGKILL must not leave its engine holding the data.
    prctl_set_pdeathsig = 1
    ctypes.CDLL(None).prctl(prctl_set_pdeathsig, signal.SIGKILL, 0, 0, 0)


def _read_report(read_end: int, engine: subprocess.Popen[bytes]) -> str:
    ready, _, _ = select.select([read_end], [], [], 60)
    line = os.read(read_end, 4096).decode().strip() if ready else ""
    if not line:
        raise LocalStoreError(f"the store's engine did not start (exit code {engine.poll()})")
    return line


def _wait_ready(port: int, creds: Credentials, engine: subprocess.Popen[bytes]) -> None:
    Client = driver_client()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and engine.poll() is None:
        if not accepts_connections(port):  # the driver would log each refusal
            time.sleep(0.1)
            continue
        client = Client(
            host="127.0.0.1", port=port, user=ADMIN, password=creds.passwords[ADMIN],
            connect_timeout=1,
        )  # fmt: skip
        try:
            client.execute(READY_QUERY)
            return
        except Exception:  # not listening yet
            time.sleep(0.1)
        finally:
            client.disconnect()
    raise LocalStoreError("the store did not start listening")


def _stop_engine(engine: subprocess.Popen[bytes], port: int, creds: Credentials) -> None:
    Client = driver_client()
    ended = False
    if engine.poll() is None:
        client = Client(
            host="127.0.0.1", port=port, user=ADMIN, password=creds.passwords[ADMIN],
            connect_timeout=2,  # a deaf engine is killed below, not waited for
        )  # fmt: skip
        try:
            client.execute(END_SERVING_QUERY)
        except Exception as exc:  # killed below
            log.warning("ending the serving query failed: %s", exc)
            ended = False
        else:
            ended = True
        finally:
            client.disconnect()
    with contextlib.suppress(subprocess.TimeoutExpired):
        # Ended: the engine flushes and exits within a second or so; what it has not
        # finished then (a background merge) is safe to cut, as after a kill.
        engine.wait(1.0 if ended else 0.5)
    if engine.poll() is None:  # only a PID that is still our child's
        engine.kill()  # its parts are on disk, as after any kill (a stop within 2 s)
        engine.wait()
