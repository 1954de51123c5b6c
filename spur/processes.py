"""Processes spur starts and stops itself: free ports, liveness, stopping by PID.

Shared by the dev broker and store (spur.dev), the state readers that find
them again (spur.local_state), worker launching (spur.worker.launch), the
benchmarks and the tests: one definition of "alive" (a zombie is not) and of
"stop" (SIGTERM, wait, then SIGKILL), so no caller signals a process twice or
leaves one behind. Only ever called with the PID of a process spur started.

Blocking: :func:`stop_pid` waits up to its timeout. Raises nothing for a
process that is already gone.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from spur.client.private import write_private


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_free(port: int) -> bool:
    """Whether a server could listen on 127.0.0.1:``port`` now (as servers bind: SO_REUSEADDR,
    so a port left in TIME_WAIT by a killed server counts as free)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def ports_kept_in(path: Path, count: int) -> list[int]:
    """``count`` distinct ports: the ones ``path`` kept, while all are free, else new free
    ones, kept there (private) for the next start. A local server restarted on its old
    ports is found again by the clients that knew them (they retry the same address)."""
    with contextlib.suppress(OSError, ValueError, TypeError):
        kept = json.loads(path.read_text())
        last = [int(p) for p in (kept if isinstance(kept, list) else [kept])]
        if len(last) == count == len(set(last)) and all(port_free(p) for p in last):
            return last
    ports: list[int] = []
    while len(ports) < count:
        if (port := free_port()) not in ports:
            ports.append(port)
    write_private(path, json.dumps(ports))
    return ports


def accepts_connections(port: int) -> bool:
    """Whether something listens on 127.0.0.1:``port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped) counts as gone.
    with contextlib.suppress(OSError):
        if Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z"):
            return False
    return True


def stop_pid(pid: int, timeout: float, wait: object = None) -> None:
    """Stop one process we started: SIGTERM, then SIGKILL after ``timeout``."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(wait):
            with contextlib.suppress(subprocess.TimeoutExpired):
                wait(timeout=0.2)
                return
        elif not pid_alive(pid):
            return
        else:
            time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    if callable(wait):
        wait()
