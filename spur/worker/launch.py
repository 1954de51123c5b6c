"""How the demo, the benchmarks and the tests start a ``spur worker`` subprocess."""

from __future__ import annotations

import os
from pathlib import Path


def worker_env(bootstrap: str, workdir: Path, store_url: str, **extra: str) -> dict[str, str]:
    """The environment of a `spur worker` subprocess writing to ``store_url``
    and keeping its state under ``workdir`` (the demo, the benchmarks, the tests);
    its metrics on a free port (worker.json says which), so several run side by side."""
    return {
        **os.environ,
        "SPUR_METRICS_PORT": "0",
        "SPUR_KAFKA_BOOTSTRAP": bootstrap,
        "SPUR_CLICKHOUSE_URL": store_url,
        "SPUR_STATE_DIR": str(workdir / "state"),
        **extra,
    }
