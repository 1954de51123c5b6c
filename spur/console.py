"""The ``spur`` console script: the command line, or why it cannot run here.

The base install of spur is the app servers' client; the command line (and
the worker, broker and store it runs) needs the ``worker`` extra. In a
client-only install ``spur`` says so and exits 1 instead of a traceback.
An ImportError of anything else is a bug and is raised as it is.
"""

from __future__ import annotations

import sys

# Top-level modules that only the `worker` extra installs (pyproject.toml).
WORKER_MODULES = frozenset(
    {
        "chdb",
        "clickhouse_driver",
        "click",
        "faust",
        "mode",
        "pandas",
        "pydantic",
        "rich",
        "xxhash",
    }
)
NEEDS_WORKER_EXTRA = "spur's command line needs the worker extra: pip install 'spur[worker]'"


def main() -> None:
    try:
        from spur.cli.main import main as run_command
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in WORKER_MODULES:
            raise
        print(f"{NEEDS_WORKER_EXTRA} (missing: {exc.name})", file=sys.stderr)
        sys.exit(1)
    run_command()
