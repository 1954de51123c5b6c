"""CPU time of the benchmark's processes over a window, read from /proc as ``top`` does.

:func:`sample` reads each named process's user + system time
(``/proc/<pid>/stat``), its descendants' included: a child a process starts
works for it. :func:`cpu_use` turns two samples into CPU seconds and cores
used (CPU seconds per wall second) per process, the cores every other
process used (the benchmark's own polling, anything else running: the
machine's busy time from ``/proc/stat`` less the named processes') and the
machine's idle share. When the others took much, the machine was shared:
the named processes may have waited for a core, and the idle share is not
``1 - (their cores) / (the machine's cores)``.

A descendant that exited between the two samples takes its time with it;
the measured processes start none (the workers, the store and the broker
work in threads). Linux only. Blocking: reads /proc, a few milliseconds.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class CpuSample:
    at: float  # time.perf_counter() when read
    seconds: dict[str, float]  # user + system seconds of each named process tree
    machine_busy: float  # seconds the machine's cores were not idle, all cores summed


@dataclass(frozen=True)
class CpuUse:
    wall: float  # seconds between the samples
    seconds: dict[str, float]  # CPU seconds per named process tree
    cores: dict[str, float]  # CPU seconds per wall second: 1.0 is one core kept busy
    others: float  # cores used by every other process on the machine
    idle_share: float  # of the machine's cores, the share no process used
    cpus: int  # the machine's cores


def parse_stat(text: str) -> tuple[int, int]:
    """(parent pid, user + system ticks) of one ``/proc/<pid>/stat`` line."""
    # The command name (field 2) may hold spaces and parentheses: split after its last ")".
    fields = text.rsplit(")", 1)[1].split()
    # fields[0] is field 3 (state): ppid is field 4, utime and stime fields 14 and 15.
    return int(fields[1]), int(fields[11]) + int(fields[12])


def busy_ticks(proc_stat: str) -> int:
    """Ticks all cores spent not idle, from ``/proc/stat``'s first ("cpu") line."""
    # user nice system idle iowait irq softirq steal; guest time is already in user.
    ticks = [int(n) for n in proc_stat.splitlines()[0].split()[1:9]]
    return sum(ticks) - ticks[3] - ticks[4]


def tree_ticks(root: int, processes: Mapping[int, tuple[int, int]]) -> int:
    """Ticks of ``root`` and its descendants; ``processes``: pid -> (parent, ticks)."""
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in processes.items():
        children.setdefault(parent, []).append(pid)
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += processes[pid][1] if pid in processes else 0
        todo.extend(children.get(pid, ()))
    return total


def read_processes() -> dict[int, tuple[int, int]]:
    """pid -> (parent, ticks) of every process visible in /proc."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):  # gone since the listing
                found[int(entry.name)] = parse_stat((entry / "stat").read_text())
    return found


def sample(named: Mapping[str, int]) -> CpuSample:
    """The CPU time so far of each named pid's process tree, and of the machine."""
    processes = read_processes() if named else {}
    ticks = {name: tree_ticks(pid, processes) for name, pid in named.items()}
    return CpuSample(
        at=time.perf_counter(),
        seconds={name: n / TICKS_PER_SECOND for name, n in ticks.items()},
        machine_busy=busy_ticks(Path("/proc/stat").read_text()) / TICKS_PER_SECOND,
    )


def cpu_use(first: CpuSample, last: CpuSample, cpus: int) -> CpuUse:
    """What each named process tree used between two samples."""
    wall = max(last.at - first.at, 1e-9)
    seconds = {name: last.seconds[name] - first.seconds[name] for name in first.seconds}
    cores = {name: used / wall for name, used in seconds.items()}
    ours = sum(cores.values())
    machine = (last.machine_busy - first.machine_busy) / wall
    others = max(machine - ours, 0.0)
    return CpuUse(wall, seconds, cores, others, idle_share=max(1 - machine / cpus, 0.0), cpus=cpus)


def figures(use: CpuUse) -> dict[str, object]:
    """``use`` as the benchmarks' JSON reports it."""
    return {
        "cpu_window_seconds": round(use.wall, 2),
        "machine_cores": use.cpus,
        "cpu_seconds": {name: round(s, 2) for name, s in use.seconds.items()},
        "cpu_cores": {
            **{name: round(c, 2) for name, c in use.cores.items()},
            "other_processes": round(use.others, 2),
            "idle_share_of_machine": round(use.idle_share, 2),
        },
    }
