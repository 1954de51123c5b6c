"""Landlock: a process confines itself to the files and TCP ports it names.

Linux's Landlock lets an unprivileged process (root too) give up access to
everything but a list of paths and ports, for itself and all it starts
later; nothing undoes it. The local store's engine uses it
(spur.dev.store_engine) so that SQL run through it cannot read or write a
file it was not meant to.

Two halves: pure helpers that turn what a process needs into a rule set
fitted to the kernel's Landlock version (:func:`ruleset`), and a thin layer
of three system calls through ctypes (:func:`abi_version`,
:func:`restrict_self`). Paths are opened only by :func:`restrict_self`.

Blocking: nothing. Raises :class:`LandlockError` from :func:`restrict_self`.
"""

from __future__ import annotations

import ctypes
import os
import platform
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

# Access rights on files and directories (linux/landlock.h), and the ABI
# version that introduced each: a right unknown to the kernel is left out.
EXECUTE = 1 << 0
WRITE_FILE = 1 << 1
READ_FILE = 1 << 2
READ_DIR = 1 << 3
REMOVE_DIR = 1 << 4
REMOVE_FILE = 1 << 5
MAKE_CHAR = 1 << 6
MAKE_DIR = 1 << 7
MAKE_REG = 1 << 8
MAKE_SOCK = 1 << 9
MAKE_FIFO = 1 << 10
MAKE_BLOCK = 1 << 11
MAKE_SYM = 1 << 12
REFER = 1 << 13  # ABI 2
TRUNCATE = 1 << 14  # ABI 3
IOCTL_DEV = 1 << 15  # ABI 5
_FS_BY_ABI = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 4: (1 << 15) - 1}
_FS_LATEST = (1 << 16) - 1  # ABI 5 and later

# TCP ports (ABI 4) and scopes (ABI 6: no signals to, no abstract unix
# sockets of, processes outside the domain).
BIND_TCP = 1 << 0
CONNECT_TCP = 1 << 1
SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0
SCOPE_SIGNAL = 1 << 1

# The rights a rule on a regular file may carry (others are for directories).
FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV
READ = READ_FILE | READ_DIR
READ_WRITE = _FS_LATEST & ~EXECUTE & ~IOCTL_DEV

_SYSCALLS = {"x86_64": (444, 445, 446), "aarch64": (444, 445, 446)}
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1
_RULE_NET_PORT = 2
_PR_SET_NO_NEW_PRIVS = 38


class LandlockError(OSError):
    """The kernel refused to confine the process; the message says why."""


@dataclass(frozen=True)
class Needs:
    """What a process needs after it confines itself."""

    read: tuple[Path, ...] = ()
    read_write: tuple[Path, ...] = ()
    bind_ports: tuple[int, ...] = ()
    connect_ports: tuple[int, ...] = ()


@dataclass(frozen=True)
class Ruleset:
    """Rights the kernel will deny unless a rule grants them, and the rules."""

    abi: int
    handled_fs: int
    handled_net: int
    scoped: int
    paths: tuple[tuple[Path, int], ...]  # (path, rights beneath it)
    ports: tuple[tuple[int, int], ...]  # (port, rights)


def fs_rights(abi: int) -> int:
    """The file-system rights Landlock ``abi`` knows."""
    return _FS_BY_ABI.get(abi, _FS_LATEST) if abi > 0 else 0


def ruleset(abi: int, needs: Needs, is_dir: dict[Path, bool]) -> Ruleset:
    """``needs`` as rules for Landlock ``abi``; ``is_dir`` says which paths are directories.

    Paths missing from ``is_dir`` (absent on this host) get no rule. A rule
    on a file carries only the rights a file can have. Ports are handled from
    ABI 4 on, scopes from ABI 6 on: older kernels confine files only.
    """
    known = fs_rights(abi)
    paths: list[tuple[Path, int]] = []
    for rights, group in ((READ, needs.read), (READ_WRITE, needs.read_write)):
        for path in dict.fromkeys(group):
            if path in is_dir:
                allowed = rights & known if is_dir[path] else rights & known & FILE_RIGHTS
                paths.append((path, allowed))
    net = (BIND_TCP | CONNECT_TCP) if abi >= 4 else 0
    ports = [(p, BIND_TCP) for p in needs.bind_ports] + [
        (p, CONNECT_TCP) for p in needs.connect_ports
    ]
    return Ruleset(
        abi=abi,
        handled_fs=known,
        handled_net=net,
        scoped=(SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL) if abi >= 6 else 0,
        paths=tuple(paths),
        ports=tuple(_merge_ports(ports)) if net else (),
    )


def _merge_ports(ports: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: dict[int, int] = {}
    for port, rights in ports:
        merged[port] = merged.get(port, 0) | rights
    return sorted(merged.items())


def existing(paths: Iterable[Path]) -> dict[Path, bool]:
    """Which of ``paths`` exist here, and whether each is a directory (follows links)."""
    found: dict[Path, bool] = {}
    for path in paths:
        try:
            found[path] = stat.S_ISDIR(os.stat(path).st_mode)
        except OSError:
            continue
    return found


# --- the system calls ---------------------------------------------------------------


class _RulesetAttr(ctypes.Structure):
    _fields_ = (
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    )


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1  # packed in the kernel's header
    _fields_ = (("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32))


class _NetPortAttr(ctypes.Structure):
    _fields_ = (("allowed_access", ctypes.c_uint64), ("port", ctypes.c_uint64))


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _numbers() -> tuple[int, int, int] | None:
    return _SYSCALLS.get(platform.machine())


def abi_version() -> tuple[int, str]:
    """The kernel's Landlock ABI version (0 when it has none) and, if 0, why."""
    numbers = _numbers()
    if numbers is None:
        return 0, f"Landlock's system calls are not known for {platform.machine()}"
    version = _libc().syscall(numbers[0], None, ctypes.c_size_t(0), _CREATE_RULESET_VERSION)
    if version < 0:
        error = ctypes.get_errno()
        return 0, f"the kernel offers no Landlock ({os.strerror(error)})"
    return int(version), ""


def restrict_self(rules: Ruleset) -> list[int]:
    """Confine the calling thread, and every thread and process it starts later.

    Call it while the process has one thread: threads that run already stay
    unconfined (the caller checks). Returns the descriptors (``O_PATH``) of
    the rules' paths, which the caller keeps open: a rule holds an inode, and
    the kernel makes a new inode for a /proc file whose cache entry it
    dropped, which no rule would then cover (measured: a rule on
    /proc/self/statm denied it after ``drop_caches``).
    """
    numbers = _numbers()
    if numbers is None or rules.abi <= 0:
        raise LandlockError("Landlock is not available")
    create, add_rule, restrict = numbers
    libc = _libc()
    attr = _RulesetAttr(rules.handled_fs, rules.handled_net, rules.scoped)
    # Older kernels take the shorter structure of their own ABI.
    size = ctypes.sizeof(attr) if rules.abi >= 6 else (16 if rules.abi >= 4 else 8)
    ruleset_fd = libc.syscall(create, ctypes.byref(attr), ctypes.c_size_t(size), 0)
    if ruleset_fd < 0:
        raise LandlockError(ctypes.get_errno(), "landlock_create_ruleset failed")
    kept: list[int] = []
    try:
        for path, rights in rules.paths:
            kept.append(_add_path_rule(libc, add_rule, ruleset_fd, path, rights))
        for port, rights in rules.ports:
            port_attr = _NetPortAttr(rights, port)
            if libc.syscall(add_rule, ruleset_fd, _RULE_NET_PORT, ctypes.byref(port_attr), 0):
                raise LandlockError(ctypes.get_errno(), f"Landlock rule for port {port} refused")
        # Required for an unprivileged process; root sets it too, so that an
        # executed set-uid program cannot shed the confinement either.
        if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0):
            raise LandlockError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
        if libc.syscall(restrict, ruleset_fd, 0):
            raise LandlockError(ctypes.get_errno(), "landlock_restrict_self failed")
    except BaseException:
        for descriptor in kept:
            os.close(descriptor)
        raise
    finally:
        os.close(ruleset_fd)
    return kept


def _add_path_rule(
    libc: ctypes.CDLL, add_rule: int, ruleset_fd: int, path: Path, rights: int
) -> int:
    descriptor = os.open(path, os.O_PATH | os.O_CLOEXEC)
    attr = _PathBeneathAttr(rights, descriptor)
    if libc.syscall(add_rule, ruleset_fd, _RULE_PATH_BENEATH, ctypes.byref(attr), 0):
        error = ctypes.get_errno()
        os.close(descriptor)
        raise LandlockError(error, f"Landlock rule for {path} refused")
    return descriptor
