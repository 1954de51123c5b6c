"""What the local store's gate needs of the OS: a thread in the engine's network
namespace, and descriptors for many connections.

Blocking: no. Raises OSError.
"""

from __future__ import annotations

import ctypes
import os
import resource

from spur.dev.store_engine import CLONE_NEWNET


def enter_network_namespace(netns: str) -> None:
    """Move the calling thread into the network namespace at ``netns`` (/proc/PID/ns/net)."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(netns, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"setns({netns}): {os.strerror(errno)}")
    finally:
        os.close(fd)


def descriptors_up_to_the_hard_limit() -> None:
    """The soft limit of open files raised to the hard one: the gate holds two
    descriptors per connection, and a shell's soft default (1,024) ran out when
    another user opened 1,100 idle connections (the server then ended)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
