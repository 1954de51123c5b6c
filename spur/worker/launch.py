"""How the demo, the benchmarks and the tests start ``spur worker`` subprocesses.

One place for the environment a launched worker gets and for starting and
stopping it, so that every launcher runs the worker the same way a user
does (``python -m spur worker``, its output in a log file, stopped with
SIGTERM and then SIGKILL), and none of them leaves a worker behind.

Blocking: :func:`start_worker` returns at once (it does not wait for the
worker to be ready); :meth:`WorkerProcess.stop` waits up to its timeout.
Raises OSError when the log cannot be opened or the interpreter not run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from spur.client.kafka import KafkaTarget, as_target
from spur.processes import stop_pid

# What a launched worker runs, after the interpreter: the command a user runs.
WORKER_COMMAND = ("-m", "spur", "worker")


def kafka_env(bootstrap: str | KafkaTarget) -> dict[str, str]:
    """The ``SPUR_KAFKA_*`` variables that make a spur process log in as ``bootstrap`` does.

    Passed in the environment, never on a command line: any user of the host
    can read a process's arguments, only its owner its environment.
    """
    target = as_target(bootstrap)
    env = {
        "SPUR_KAFKA_BOOTSTRAP": target.bootstrap,
        "SPUR_KAFKA_SECURITY_PROTOCOL": target.security_protocol,
    }
    if target.username is not None:
        env["SPUR_KAFKA_SASL_USERNAME"] = target.username
    if target.password is not None:
        env["SPUR_KAFKA_SASL_PASSWORD"] = target.password.get_secret_value()
    if target.cafile is not None:
        env["SPUR_KAFKA_SSL_CAFILE"] = str(target.cafile)
    return env


def worker_env(
    bootstrap: str | KafkaTarget, workdir: Path, store_url: str, **extra: str
) -> dict[str, str]:
    """The environment of a `spur worker` subprocess writing to ``store_url``
    and keeping its state under ``workdir`` (the demo, the benchmarks, the tests);
    its metrics on a free port (worker.json says which), so several run side by side."""
    return {
        **os.environ,
        "SPUR_METRICS_PORT": "0",
        **kafka_env(bootstrap),
        "SPUR_CLICKHOUSE_URL": store_url,
        "SPUR_STATE_DIR": str(workdir / "state"),
        **extra,
    }


class WorkerProcess(subprocess.Popen[bytes]):
    """A running `spur worker`: a Popen that knows its log and stops itself.

    As a context manager it stops the worker on exit (SIGTERM, then SIGKILL),
    where a plain Popen would wait for it forever.
    """

    def __init__(
        self,
        env: dict[str, str],
        log: Path,
        cwd: Path | None = None,
        processes: int = 1,
        command: Sequence[str] = WORKER_COMMAND,
    ) -> None:
        self.log = log
        with log.open("ab") as out:
            super().__init__(
                [sys.executable, *command, "--processes", str(processes)],
                env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )  # fmt: skip

    def log_tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:]

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM, wait up to ``timeout``, then SIGKILL. Safe to call twice."""
        if self.returncode is None:
            stop_pid(self.pid, timeout, wait=self.wait)

    def __enter__(self) -> WorkerProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_worker(
    env: dict[str, str],
    log: Path,
    *,
    cwd: Path | None = None,
    processes: int = 1,
    command: Sequence[str] = WORKER_COMMAND,
) -> WorkerProcess:
    """Start `spur worker --processes N` with ``env`` (:func:`worker_env`), its output
    appended to ``log``. ``command``: the interpreter's arguments before
    ``--processes``; the outage tests give their own module, which runs this
    worker over a store that fails on demand (tests/faults/faulty_worker.py)."""
    return WorkerProcess(env, log, cwd, processes, command)
