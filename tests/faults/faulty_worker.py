"""`spur worker` over a store that fails while a file exists: the outage tests' worker.

Run as ``python -m tests.faults.faulty_worker FAULT_FILE --processes N`` (what
:func:`start_faulty_worker` does): the settings, topics, migrations and every
consumer are the real worker's (spur.worker.process.run_worker); only the store
it writes to is wrapped (tests/faults/faulty_store.py). Production code knows
nothing of it: run_worker takes how to open its store, and this module hands
it a faulty one.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from spur.client.private import PRIVATE_UMASK
from spur.settings import load_settings
from spur.worker.launch import WorkerProcess, start_worker
from spur.worker.process import run_worker
from tests.faults.faulty_store import FaultyWriter

ROOT = Path(__file__).resolve().parents[2]
MODULE = "tests.faults.faulty_worker"


def start_faulty_worker(
    env: dict[str, str], log: Path, fault_file: Path, *, cwd: Path | None = None
) -> WorkerProcess:
    """Start the worker (:func:`spur.worker.launch.start_worker`) whose store fails while
    ``fault_file`` exists; ``tests`` is importable whatever ``cwd`` is."""
    path = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    command = ("-m", MODULE, str(fault_file))
    return start_worker({**env, "PYTHONPATH": path}, log, cwd=cwd, command=command)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("fault_file", type=Path)
    parser.add_argument("--processes", type=int, default=1)
    args = parser.parse_args()
    os.umask(PRIVATE_UMASK)  # as the spur command sets it (spur.cli.main)
    run_worker(load_settings(), args.processes, open_store=FaultyWriter(args.fault_file))


if __name__ == "__main__":
    main()
