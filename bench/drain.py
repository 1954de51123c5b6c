"""How fast a consumer group drains the actions topic, and how much memory it took.

A group's progress is read from the broker, as an operator would: its lag
(messages not committed yet) and its committed messages (the sum of its
committed offsets) on ``spur.actions.v1``. :func:`wait_drained` polls them
until the lag is 0, samples the consumers' memory meanwhile, and checks the
group committed exactly the messages expected: the published ones, or twice
as many when the worker re-publishes every one of them (a detour, see
docs/topics.md "What a wrong key costs"). It also reads the CPU time of the
processes it is given (bench.cpu) over the same window as the rate.

Blocking: polls every 0.2 s until done. Raises RuntimeError when a consumer
exits or commits another number of messages than expected.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from bench.cpu import CpuSample, CpuUse, cpu_use, sample
from spur.broker import topic_partitions
from spur.client.kafka import KafkaTarget
from spur.processes import stop_pid
from spur_schemas.topics import Topic


@dataclass(frozen=True)
class Position:
    lag: int  # messages of the topic the group has not committed
    committed: int  # messages the group has committed, from the topic's start


class Probe:
    """Clients that read a group's position on the actions topic, opened once for a whole run.

    Opening an admin client and a consumer per reading takes 0.1-0.5 s here,
    coarser than the runs' batches; these stay open, so a reading is a few
    milliseconds and takes little from the consumers it measures.
    """

    def __init__(self, bootstrap: KafkaTarget) -> None:
        access = bootstrap.client_kwargs()
        self._admin = AIOKafkaAdminClient(**access)
        self._consumer = AIOKafkaConsumer(**access, enable_auto_commit=False)
        self._partitions: list[TopicPartition] = []

    async def __aenter__(self) -> Probe:
        await self._admin.start()
        await self._consumer.start()
        self._partitions = await topic_partitions(self._admin, [Topic.ACTIONS])
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._consumer.stop()
        await self._admin.close()

    async def position(self, group: str) -> Position | None:
        """``group``'s lag and committed messages; None before its coordinator answers."""
        partitions = self._partitions
        try:
            ends = await self._consumer.end_offsets(partitions)
            starts = await self._consumer.beginning_offsets(partitions)
            offsets = await self._admin.list_consumer_group_offsets(group, partitions=partitions)
        except Exception:  # coordinator not ready yet
            return None
        lag = committed = 0
        for tp in partitions:
            meta = offsets.get(tp)
            done = starts[tp] if meta is None or meta.offset < 0 else max(meta.offset, starts[tp])
            lag += max(0, ends[tp] - done)
            committed += done - starts[tp]
        return Position(lag, committed)


def status_mb(pid: int, field: str) -> float:
    """One memory figure of /proc/<pid>/status (VmHWM, RssAnon, ...), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def spawned(pid: int) -> list[int]:
    """The actions processes a `spur worker --processes N` started (multiprocessing spawns)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            if parent == pid and b"spawn_main" in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:  # gone since the listing
            continue
    return found


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set (VmHWM), in MiB."""
    return status_mb(pid, "VmHWM")


@dataclass(frozen=True)
class Drained:
    # Published actions per second from the first committed progress to the
    # end (from the start, if all was committed at once: one batch).
    per_second: float
    with_start_per_second: float  # from the processes' start
    messages_per_second: float  # committed messages (detours included) per second, as per_second
    committed: int  # messages committed in all
    peak_rss_mb: float  # the largest peak of one process
    peak_anon_mb: float  # the largest peak of one process
    peak_anon_all_processes_mb: float  # of one worker and its extra actions processes
    cpu: CpuUse  # of the processes named to wait_drained, over the rate's window


def wait_drained(
    processes: Sequence[subprocess.Popen[bytes]],
    bootstrap: KafkaTarget,
    group: str,
    *,
    actions: int,
    messages: int,
    logs: Sequence[Path],
    cpu_of: Mapping[str, int] | None = None,
    at_first_progress: Callable[[], None] | None = None,
) -> Drained:
    """Poll ``group`` until ``processes`` committed the topic: lag 0, ``messages`` committed.

    Rates count ``actions`` (the published ones) over the time it took;
    ``messages`` is what the group must commit for them (``actions``, or
    twice as many when each is re-published once). ``cpu_of`` names the
    processes whose CPU time to read (their pids); ``at_first_progress``
    runs when the group first commits (a profiler's start). Stops no process.
    """
    return asyncio.run(
        _wait_drained(
            processes,
            bootstrap,
            group,
            actions=actions,
            messages=messages,
            logs=logs,
            cpu_of=cpu_of or {},
            at_first_progress=at_first_progress,
        )
    )


async def _wait_drained(
    processes: Sequence[subprocess.Popen[bytes]],
    bootstrap: KafkaTarget,
    group: str,
    *,
    actions: int,
    messages: int,
    logs: Sequence[Path],
    cpu_of: Mapping[str, int],
    at_first_progress: Callable[[], None] | None,
) -> Drained:
    started = time.perf_counter()
    cpu_at_start = sample(cpu_of)
    peak_anon: dict[int, float] = {}  # per process, extra actions processes included
    peak_tree_anon = 0.0  # the largest sum over one worker's processes
    first: tuple[float, int, CpuSample] | None = None  # when the group first committed
    async with Probe(bootstrap) as probe:
        while True:
            for process, log in zip(processes, logs, strict=True):
                if process.poll() is not None:
                    raise RuntimeError(f"{process.args!r} exited; {log}:\n{tail(log)}")
            found = await probe.position(group)
            now = time.perf_counter()
            # Anonymous memory (heap, arenas), sampled: VmHWM also counts the
            # pages of shared libraries the kernel happened to map in.
            for process in processes:
                tree = {process.pid: status_mb(process.pid, "RssAnon")}
                tree.update({pid: status_mb(pid, "RssAnon") for pid in spawned(process.pid)})
                for pid, mb in tree.items():
                    peak_anon[pid] = max(peak_anon.get(pid, 0.0), mb)
                peak_tree_anon = max(peak_tree_anon, sum(tree.values()))
            if found is not None and found.committed > 0 and first is None:
                first = (now, found.committed, sample(cpu_of))
                if at_first_progress is not None:
                    at_first_progress()
            if found is not None and found.lag == 0 and first is not None:
                cpu_at_end = sample(cpu_of)
                break
            await asyncio.sleep(0.2)
    if found.committed != messages:
        raise RuntimeError(
            f"group {group} committed {found.committed} messages, expected {messages}"
        )
    if first[1] < messages:
        moved = (messages - first[1]) / max(now - first[0], 1e-9)
        cpu_from = first[2]
    else:  # all committed at the first sight of progress (one batch): start included
        moved = messages / (now - started)
        cpu_from = cpu_at_start
    return Drained(
        per_second=moved * actions / messages,
        with_start_per_second=actions / (now - started),
        messages_per_second=moved,
        committed=found.committed,
        peak_rss_mb=max(peak_rss_mb(pid) for p in processes for pid in [p.pid, *spawned(p.pid)]),
        peak_anon_mb=max(peak_anon.values()),
        peak_anon_all_processes_mb=peak_tree_anon,
        cpu=cpu_use(cpu_from, cpu_at_end, os.cpu_count() or 1),
    )


def drained_rate(
    process: subprocess.Popen[bytes], bootstrap: KafkaTarget, group: str, total: int, log: Path
) -> Drained:
    """:func:`wait_drained` for one consumer of ``total`` messages, stopped (by PID) after."""
    try:
        return wait_drained([process], bootstrap, group, actions=total, messages=total, logs=[log])
    finally:
        stop_pid(process.pid, timeout=30, wait=process.wait)


def tail(log: Path, chars: int = 3000) -> str:
    try:
        return log.read_text(errors="replace")[-chars:]
    except OSError:
        return "(no log)"
