"""A real single-node Apache Kafka broker (KRaft) on loopback, started with ``java``.

Neither Docker nor the Kafka release tarball is available on the machines spur
is built on, so the broker runs from Maven Central jars (spur.dev.kafka_jars)
with the configuration of spur.dev.broker_config, on free loopback ports.
This module owns the process: start, wait until it answers, report its log,
stop. Used by ``spur dev up`` (which leaves the broker running and records it
in spur.local_state's file), ``spur demo``, the benchmarks and the test session.

Every listener asks for a password (spur.dev.broker_config). The passwords
are generated when the storage is formatted, with the SCRAM users, and kept
in the data directory (``credentials.json``, 0600): :attr:`LocalBroker.target`
is how the starter's own clients log in; other processes of the same user
read the file (spur.broker.kafka_target). A data directory formatted by an
older spur, without those users, is refused rather than served open.

Blocking: every function here blocks (subprocesses, polling); call them from
threads or before an event loop starts. Raises :class:`BrokerError` with the
broker's log tail when it does not come up.
"""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import TracebackType

from spur.client.kafka import KafkaTarget
from spur.client.private import private_dir, write_private
from spur.dev.broker_config import LOG4J, SecureListener, scram_users, server_properties
from spur.dev.kafka_jars import LOG_TAIL_LINES, BrokerError, kafka_jars
from spur.local_state import (
    BrokerCredentials,
    DevBrokerState,
    dev_broker_file,
    new_broker_credentials,
    read_broker_credentials,
    running_dev_broker,
)
from spur.processes import accepts_connections, free_port, ports_kept_in, stop_pid

# The error and the listener type are part of LocalBroker's interface: named here too.
__all__ = ["BrokerError", "LocalBroker", "SecureListener", "dev_down", "dev_up"]

READY_LINE = "Kafka Server started"


@dataclass
class LocalBroker:
    """One KRaft broker+controller process on loopback, owned by whoever started it."""

    data_dir: Path
    version: str = "3.9.2"
    cache_dir: Path | None = None
    port: int = field(default_factory=free_port)
    controller_port: int = field(default_factory=free_port)
    heap: str = "512m"
    secure: SecureListener | None = None
    # False only to measure what authentication costs (bench/): anyone on
    # the host could then read and write every topic.
    authenticate: bool = True
    credentials: BrokerCredentials | None = None  # set by start()
    process: subprocess.Popen[bytes] | None = None

    @property
    def secure_bootstrap(self) -> str:
        assert self.secure is not None, "this broker has no SASL_SSL listener"
        return f"127.0.0.1:{self.secure.port}"

    @property
    def bootstrap(self) -> str:
        """The client listener's address (clients also need :attr:`target`'s login)."""
        return f"127.0.0.1:{self.port}"

    @property
    def target(self) -> KafkaTarget:
        """The client listener with spur's login (after :meth:`start`)."""
        if not self.authenticate:
            return KafkaTarget(self.bootstrap)
        assert self.credentials is not None, "start() the broker first"
        return self.credentials.target(self.bootstrap)

    @property
    def log_path(self) -> Path:
        return self.data_dir / "broker.log"

    def _properties(self) -> str:
        return server_properties(
            self.port, self.controller_port, self.data_dir, self.credentials, self.secure
        )

    def _java(self, libs: Path, *args: str) -> list[str]:
        log4j = self.data_dir / "log4j.properties"
        return [
            "java", "-Xms128m", f"-Xmx{self.heap}", "-XX:+UseSerialGC",
            f"-Dlog4j.configuration=file:{log4j}", "-cp", f"{libs}/*", *args,
        ]  # fmt: skip

    def _java_private(self, libs: Path, *args: str) -> list[str]:
        """The same command, its arguments in a private file (java's @argfile):
        any user of the host can read a process's command line."""
        argfile = self.data_dir / "format.args"
        write_private(argfile, "\n".join(f'"{arg}"' for arg in self._java(libs, *args)[1:]))
        return ["java", f"@{argfile}"]

    def _login(self) -> BrokerCredentials | None:
        """The passwords of a new storage, or the ones it was formatted with."""
        if not self.authenticate:
            return None
        kept = read_broker_credentials(self.data_dir)
        if kept is not None:
            return kept
        if (self.data_dir / "logs" / "meta.properties").exists():
            raise BrokerError(
                f"{self.data_dir} holds a broker formatted by an older spur, without "
                "authentication (its topics could be read and written by any user of "
                f"this host); delete it to start a new one: rm -r {self.data_dir} "
                "(its Kafka messages are lost; the store keeps what workers stored)"
            )
        return new_broker_credentials(self.data_dir)

    def start(self, *, timeout: float = 90.0, detach: bool = False) -> None:
        """Format the storage if new, start the broker and wait until it answers.

        ``detach`` puts the broker in its own session so it outlives the
        caller (``spur dev up``); otherwise it shares the caller's session.
        """
        libs = kafka_jars(self.version, self.cache_dir)
        private_dir(self.data_dir)
        self.credentials = self._login()
        properties = self.data_dir / "server.properties"
        # Private: it holds the broker's own passwords.
        write_private(properties, self._properties())
        (self.data_dir / "log4j.properties").write_text(LOG4J.format(log=self.log_path))
        cluster_id = self._cluster_id(libs)
        users = {
            **(scram_users(self.credentials) if self.credentials else {}),
            **(self.secure.users if self.secure else {}),
        }
        scram = [
            arg
            for name, password in users.items()
            for arg in ("--add-scram", f"SCRAM-SHA-512=[name={name},password={password}]")
        ]
        try:
            formatted = subprocess.run(
                self._java_private(libs, "kafka.tools.StorageTool", "format", "-g",
                                   "-t", cluster_id, "-c", str(properties), *scram),
                capture_output=True, text=True, check=False,
            )  # fmt: skip
        finally:
            (self.data_dir / "format.args").unlink(missing_ok=True)
        if formatted.returncode != 0:
            raise BrokerError(f"formatting {self.data_dir} failed:\n{formatted.stderr[-2000:]}")
        with (self.data_dir / "broker.out").open("wb") as out:
            self.process = subprocess.Popen(
                self._java(libs, "kafka.Kafka", str(properties)),
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=detach,
            )  # fmt: skip
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise

    def _cluster_id(self, libs: Path) -> str:
        stored = self.data_dir / "cluster.id"
        if stored.is_file():
            return stored.read_text().strip()
        made = subprocess.run(
            self._java(libs, "kafka.tools.StorageTool", "random-uuid"),
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        cluster_id = made.stdout.strip().splitlines()[-1]
        stored.write_text(cluster_id)
        return cluster_id

    def _wait_ready(self, timeout: float) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BrokerError(
                    f"Kafka broker exited with code {self.process.returncode} while starting; "
                    f"log tail ({self.log_path}):\n{self.log_tail()}"
                )
            secure_up = self.secure is None or accepts_connections(self.secure.port)
            if self._log_has_ready_line(offset) and accepts_connections(self.port) and secure_up:
                return
            time.sleep(0.2)
        raise BrokerError(
            f"Kafka broker did not answer within {timeout:.0f} s; "
            f"log tail ({self.log_path}):\n{self.log_tail()}"
        )

    def _log_has_ready_line(self, offset: int) -> bool:
        if not self.log_path.exists():
            return False
        with self.log_path.open("rb") as log:
            log.seek(offset)
            return READY_LINE.encode() in log.read()

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        """The log's error lines (the cause is often far above the end), then its tail."""
        texts: list[str] = []
        for path in (self.log_path, self.data_dir / "broker.out"):
            if path.exists():
                texts.extend(path.read_text(errors="replace").splitlines())
        if not texts:
            return "(the broker wrote no log)"
        # An ERROR line and the exception line under it, which names the cause.
        errors = [
            "\n".join(texts[n : n + 2])
            for n, line in enumerate(texts)
            if " ERROR " in line or " FATAL " in line
        ][:6]
        tail = texts[-lines:]
        if errors:
            return "errors:\n" + "\n".join(errors) + "\n...\nlast lines:\n" + "\n".join(tail)
        return "\n".join(tail)

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM, wait up to ``timeout``, then SIGKILL. Safe to call twice."""
        if self.process is None:
            return
        stop_pid(self.process.pid, timeout, wait=self.process.wait)
        self.process = None

    def __enter__(self) -> LocalBroker:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


# --- `spur dev up` / `spur dev down`: a broker that outlives the command -----------


def dev_up(
    dev_dir: Path, version: str, cache_dir: Path | None = None
) -> tuple[DevBrokerState, bool]:
    """Start the dev broker unless it runs; return its state and whether it was started."""
    current = running_dev_broker(dev_dir)
    if current is not None:
        if read_broker_credentials(Path(current.data_dir)) is None:
            raise BrokerError(
                f"the dev broker at {current.bootstrap} (pid {current.pid}) accepts anyone on "
                "this host: an older spur started it without authentication. Run `spur dev "
                f"down`, delete its data (rm -r {current.data_dir}) and run `spur dev up` again"
            )
        return current, False
    # Its last ports, while free: workers retrying the old address find it again.
    port, controller_port = ports_kept_in(private_dir(dev_dir) / "ports.json", 2)
    broker = LocalBroker(
        data_dir=dev_dir.resolve() / "data", version=version, cache_dir=cache_dir,
        port=port, controller_port=controller_port,
    )  # fmt: skip
    broker.start(detach=True)
    assert broker.process is not None
    state = DevBrokerState(
        pid=broker.process.pid,
        bootstrap=broker.bootstrap,
        data_dir=str(broker.data_dir),
        version=version,
    )
    write_private(dev_broker_file(dev_dir), json.dumps(asdict(state)))
    return state, True


def dev_down(dev_dir: Path) -> DevBrokerState | None:
    """Stop the dev broker if it runs; return the state of the one stopped."""
    state = running_dev_broker(dev_dir)
    if state is not None:
        stop_pid(state.pid, timeout=20.0)
    dev_broker_file(dev_dir).unlink(missing_ok=True)
    return state
