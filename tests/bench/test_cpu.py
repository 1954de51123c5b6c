"""bench.cpu: CPU time per process tree from /proc, and what two samples say."""

from __future__ import annotations

import os

from bench.cpu import CpuSample, busy_ticks, cpu_use, parse_stat, sample, tree_ticks

# A command name with a space and a parenthesis, as /proc writes it.
STAT = "4242 (py (spy) x) S 17 4242 1 0 -1 4194560 900 0 0 0 250 40 3 1 20 0 8 0 77 0 0"


def test_the_stat_line_gives_the_parent_and_user_plus_system_ticks() -> None:
    assert parse_stat(STAT) == (17, 290)


def test_the_machine_is_busy_when_not_idle_nor_waiting() -> None:
    # user nice system idle iowait irq softirq steal guest guest_nice
    assert busy_ticks("cpu  100 5 50 1000 30 2 3 0 40 0\ncpu0 1 2 3\n") == 160


def test_descendants_count_into_their_ancestor() -> None:
    processes = {10: (1, 100), 11: (10, 20), 12: (11, 5), 13: (1, 999)}
    assert tree_ticks(10, processes) == 125
    assert tree_ticks(99, processes) == 0  # gone


def test_two_samples_give_cores_the_others_and_the_machines_idle_share() -> None:
    first = CpuSample(at=10.0, seconds={"worker": 1.0, "store": 0.0}, machine_busy=100.0)
    last = CpuSample(at=20.0, seconds={"worker": 8.5, "store": 4.0}, machine_busy=113.0)
    use = cpu_use(first, last, cpus=2)
    assert use.wall == 10.0
    assert use.seconds == {"worker": 7.5, "store": 4.0}
    assert use.cores == {"worker": 0.75, "store": 0.4}
    # the machine was busy 1.3 cores' worth: 0.15 of them neither the worker nor the store
    assert round(use.others, 6) == 0.15
    assert round(use.idle_share, 6) == 0.35


def test_this_process_is_sampled() -> None:
    taken = sample({"me": os.getpid()})
    assert taken.seconds["me"] > 0
    assert taken.machine_busy > 0
