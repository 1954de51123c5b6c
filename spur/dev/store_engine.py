"""The local store's engine: a process that confines itself, then serves SQL.

Runs as ``python -m spur.dev.store_engine``, started by the store's server
process (spur.dev.store_server), which keeps the passwords, checks the
engine's health and records the store. The engine is where SQL runs, so
it holds no secret and, where the kernel has Landlock (spur.dev.landlock),
gives up before it starts everything but what the chdb engine was measured
to need:

- read: Python's standard library and the installed packages (the engine's
  own modules load lazily), shared libraries, time zones, name resolution's
  files, and a list of /proc and /sys files (memory, CPU and cgroup limits;
  per-thread statistics are left out: the engine goes on without them);
- read and write: the data directory only (``TMPDIR`` points into it, for
  the session the engine's import opens);
- the store's ``config.xml`` and ``users.xml`` (password hashes only),
  read-only;
- TCP: bind on its own port; no outbound connection at all.

Everything else is denied, to the root user too: the credentials and the
rest of the state directory, /etc/shadow, /proc/self/environ, other users'
files. Its first line on the report descriptor says which protection is in
force (``confined (Landlock ABI n)`` or ``NOT confined: why``).

Blocking: :func:`main` blocks until the serving query ends (the server
kills it). Raises nothing; the engine's failure is on stderr.
"""

from __future__ import annotations

import ctypes
import fcntl
import importlib
import os
import site
import socket
import struct
import sys
from pathlib import Path
from typing import Any

from spur.dev import landlock
from spur.dev.store_config import SERVING_QUERY

CONFINED = "confined (Landlock ABI {abi})"
NOT_CONFINED = "NOT confined: {why}"
# Appended to the protection: whether other processes of the host can reach the
# engine's port (spur.dev.store_gate admits only spur's named accounts).
OWN_NETWORK = "; reached only through the gate"
SHARED_NETWORK = "; port open to every local user: {why}"

# unshare(2)/setns(2)'s flag for a network namespace; the gate enters the one made here.
CLONE_NEWNET = 0x40000000
_SIOCGIFFLAGS, _SIOCSIFFLAGS, _IFF_UP = 0x8913, 0x8914, 0x1

# Files of the host the engine reads while it serves (strace of a served
# workload: start, DDL, inserts, merges, mutations, TTL, system tables).
_HOST_READ = (
    "/usr/lib", "/lib", "/lib64", "/usr/lib64", "/usr/share/zoneinfo",
    "/etc/ld.so.cache", "/etc/localtime", "/etc/hosts", "/etc/host.conf",
    "/etc/nsswitch.conf", "/etc/resolv.conf", "/etc/gai.conf", "/dev/urandom",
    "/proc/cpuinfo", "/proc/loadavg", "/proc/meminfo", "/proc/stat", "/proc/uptime",
    "/proc/pressure", "/proc/sys/fs/file-nr", "/proc/sys/kernel/pid_max",
    "/proc/sys/kernel/task_delayacct", "/proc/sys/kernel/threads-max",
    "/proc/sys/vm/max_map_count", "/proc/sys/vm/overcommit_memory",
    "/proc/self/net/dev", "/proc/self/net/tcp", "/proc/self/net/tcp6",
    "/proc/self/auxv", "/proc/self/fd", "/proc/self/limits", "/proc/self/loginuid",
    "/proc/self/maps", "/proc/self/stat", "/proc/self/statm", "/proc/self/status",
    "/proc/self/cgroup", "/proc/self/mountinfo",
    "/sys/fs/cgroup", "/sys/devices/system/cpu", "/sys/devices/system/node",
    "/sys/devices/system/clocksource", "/sys/kernel/mm/transparent_hugepage",
    "/sys/block", "/sys/dev/block",
)  # fmt: skip
_HOST_WRITE = ("/dev/null",)


def is_confined(protection: str) -> bool:
    """Whether a reported protection (:data:`CONFINED` or :data:`NOT_CONFINED`) confines."""
    return protection.startswith("confined")


def engine_needs(directory: Path, port: int, python_dirs: tuple[Path, ...]) -> landlock.Needs:
    """What the engine serving ``directory`` on ``port`` needs once confined."""
    return landlock.Needs(
        read=(
            *python_dirs,
            *map(Path, _HOST_READ),
            directory / "config.xml",
            directory / "users.xml",
        ),
        read_write=(*map(Path, _HOST_WRITE), data_dir(directory)),
        bind_ports=(port,),
    )


def data_dir(directory: Path) -> Path:
    return directory / "data"


def engine_environment(directory: Path) -> dict[str, str]:
    """The engine's whole environment: nothing the server inherited (no secret in it)."""
    return {
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "TMPDIR": str(data_dir(directory) / "tmp"),
    }


def python_dirs() -> tuple[Path, ...]:
    """Python's standard library and shared library, and the installed packages."""
    dirs = [Path(sys.base_prefix) / "lib", *map(Path, site.getsitepackages())]
    return tuple(dict.fromkeys(d.resolve() for d in dirs))


def confine(directory: Path, port: int) -> tuple[str, list[int]]:
    """Confine this process if the kernel can: the protection in force, and descriptors to keep."""
    abi, why = landlock.abi_version()
    if abi <= 0:
        return NOT_CONFINED.format(why=why), []
    threads = len(os.listdir("/proc/self/task"))
    if threads != 1:  # Landlock confines only the calling thread and later ones
        return NOT_CONFINED.format(why=f"{threads} threads ran before confinement"), []
    needs = engine_needs(directory, port, python_dirs())
    paths = (*needs.read, *needs.read_write)
    rules = landlock.ruleset(abi, needs, landlock.existing(paths))
    try:
        kept = landlock.restrict_self(rules)
    except landlock.LandlockError as exc:
        return NOT_CONFINED.format(why=str(exc)), []
    return CONFINED.format(abi=abi), kept


def has_own_network(protection: str) -> bool:
    """Whether a reported protection says the engine runs in a network of its own."""
    return protection.endswith(OWN_NETWORK)


def isolate_network() -> str:
    """Move into a network namespace of its own, with loopback up: :data:`OWN_NETWORK`,
    or :data:`SHARED_NETWORK` saying why not (e.g. not root)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNET) != 0:
        return SHARED_NETWORK.format(why=os.strerror(ctypes.get_errno()))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        request = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(probe, _SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(probe, _SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | _IFF_UP))
    return OWN_NETWORK


def main(directory: Path, port: int, report_fd: int) -> int:
    """Confine, report the protection, then serve until the server ends the serving query."""
    os.chdir(data_dir(directory))  # the import's session reads ./config.xml: none here
    network = isolate_network()
    protection, _kept = confine(directory, port)
    protection += network
    with os.fdopen(report_fd, "w") as report:
        report.write(protection + "\n")
    engine: Any = importlib.import_module("chdb._chdb")
    os.chdir(directory)  # the serving call reads ./config.xml
    try:
        engine.query(SERVING_QUERY, "TabSeparated", path=str(data_dir(directory)))
    except Exception as exc:
        if "Code: 394" in str(exc):  # QUERY_WAS_CANCELLED: the server ended it, the normal end
            return 0
        print(f"spur store engine: {exc}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])))
