"""A flood of idle connections to the local store's port leaves it serving.

Found from outside: another OS user opened 1,100 connections that each sent
two bytes of a Hello and nothing more, held them 12 s and closed them, with
the store's open-files limit at a shell's default of 1,024. The gate ran out
of descriptors, the server's own health check failed with "Too many open
files", the engine's restart failed the same way and the server ended for
good. Now the gate holds at most spur.dev.store_gate.MAX_PENDING_HELLOS
unfinished Hellos (closing the others at once), waits when accept() has no
descriptor, gives each Hello one deadline, and a failed restart is retried;
the server also raises its soft limit to the hard one, which this test
undoes to reproduce the shell's default.
"""

from __future__ import annotations

import contextlib
import resource
import socket
import time
from pathlib import Path

import pytest

from spur.local_state import RunningStore
from tests.dev.test_store_on_a_shared_host import serves

SHELL_DEFAULT_FILES = 1_024
CONNECTIONS = 1_100
HELD_SECONDS = 12.0


def test_idle_connections_beyond_the_open_files_limit_leave_the_store_serving(
    gated_store: RunningStore,
) -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < CONNECTIONS + 200:
        pytest.skip(f"this test opens {CONNECTIONS} connections; the hard limit is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    resource.prlimit(gated_store.pid, resource.RLIMIT_NOFILE, (SHELL_DEFAULT_FILES, hard))
    with contextlib.ExitStack() as held:
        for _ in range(CONNECTIONS):
            with contextlib.suppress(OSError):  # refused or reset: the gate closed it
                idle = held.enter_context(socket.create_connection(("127.0.0.1", gated_store.port)))
                idle.sendall(b"\x00\x7f")  # a Hello's first bytes, never the rest
        time.sleep(HELD_SECONDS)
    assert serves(gated_store, timeout=30.0), "the store did not serve again"
    assert Path(f"/proc/{gated_store.pid}").exists(), "the store's server ended"
