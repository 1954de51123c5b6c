"""A real single-node Apache Kafka broker (KRaft) assembled from Maven Central jars.

Neither Docker nor the Kafka release tarball is available on the machines spur
is built on, so the broker's jars are fetched once with Maven from
``deploy/kafka/pom.xml`` into a cache outside the repository, and the broker is
started with ``java`` on free loopback ports. Used by ``spur dev up``, ``spur
demo`` and the test session.

Blocking: every function here blocks (subprocesses, polling); call them from
threads or before an event loop starts. Raises :class:`BrokerError` with the
broker's log tail when it does not come up.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import TracebackType

from schemas.errors import SpurError
from spur.client.private import private_dir, write_private

POM = Path(__file__).resolve().parents[2] / "deploy" / "kafka" / "pom.xml"
READY_LINE = "Kafka Server started"
LOG_TAIL_LINES = 40


class BrokerError(SpurError, RuntimeError):
    """The broker could not be fetched, started or stopped; the message says why."""


def default_cache_dir() -> Path:
    return Path.home() / ".cache" / "spur"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def kafka_jars(version: str, cache_dir: Path | None = None) -> Path:
    """Return the directory of the broker's jars, downloading them on first use.

    The download goes to a temporary directory renamed into place, under a
    file lock, so concurrent callers and interrupted downloads never see a
    half-filled cache.
    """
    root = (cache_dir or default_cache_dir()) / f"kafka-{version}"
    libs = root / "libs"
    if libs.is_dir():
        return libs
    if not POM.is_file():
        raise BrokerError(f"{POM} is missing: run spur from its source checkout")
    if shutil.which("mvn") is None or shutil.which("java") is None:
        raise BrokerError("the local Kafka broker needs 'java' (17+) and 'mvn' on PATH")
    with _file_lock(root.with_suffix(".lock")):
        if libs.is_dir():
            return libs
        root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix="libs-", dir=root))
        command = [
            "mvn", "-q", "-B", "-f", str(POM), f"-Dkafka.version={version}",
            "dependency:copy-dependencies", "-DincludeScope=runtime",
            f"-DoutputDirectory={staging}",
        ]  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0 or not any(staging.glob("kafka_2.13-*.jar")):
            shutil.rmtree(staging, ignore_errors=True)
            output = (result.stdout + result.stderr).strip().splitlines()[-LOG_TAIL_LINES:]
            raise BrokerError(
                f"downloading Kafka {version} jars with Maven failed "
                f"(exit {result.returncode}): {' '.join(command)}\n" + "\n".join(output)
            )
        staging.rename(libs)
    return libs


_LOG4J = """\
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File={log}
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
"""


@dataclass(frozen=True)
class SecureListener:
    """A SASL_SSL listener: SCRAM-SHA-512 users over TLS.

    ``pem`` holds the broker's PKCS#8 key, its certificate and the CA, in one
    file (Kafka's PEM keystore, no keystore password). ``users`` maps names to
    passwords; they are created when the storage is formatted.
    """

    pem: Path
    users: dict[str, str]
    port: int = field(default_factory=free_port)


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
    process: subprocess.Popen[bytes] | None = None

    @property
    def secure_bootstrap(self) -> str:
        assert self.secure is not None, "this broker has no SASL_SSL listener"
        return f"127.0.0.1:{self.secure.port}"

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "broker.log"

    def _properties(self) -> str:
        settings = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{self.controller_port}",
            "listeners": (
                f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}"
            ),
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(self.data_dir / "logs"),
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "4",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            # The 128 MiB default would be a quarter of a small heap.
            "log.cleaner.dedupe.buffer.size": "16777216",
            # spur creates its topics itself with explicit configs (topics.py);
            # a typo'd topic name must fail, not silently appear.
            "auto.create.topics.enable": "false",
        }
        if self.secure is not None:
            sport = self.secure.port
            settings["listeners"] += f",SASL_SSL://127.0.0.1:{sport}"
            settings["advertised.listeners"] += f",SASL_SSL://127.0.0.1:{sport}"
            settings["listener.security.protocol.map"] += ",SASL_SSL:SASL_SSL"
            settings["sasl.enabled.mechanisms"] = "SCRAM-SHA-512"
            prefix = "listener.name.sasl_ssl"
            settings[f"{prefix}.scram-sha-512.sasl.jaas.config"] = (
                "org.apache.kafka.common.security.scram.ScramLoginModule required;"
            )
            settings[f"{prefix}.ssl.keystore.type"] = "PEM"
            settings[f"{prefix}.ssl.keystore.location"] = str(self.secure.pem)
        return "".join(f"{key}={value}\n" for key, value in settings.items())

    def _java(self, libs: Path, *args: str) -> list[str]:
        log4j = self.data_dir / "log4j.properties"
        return [
            "java", "-Xms128m", f"-Xmx{self.heap}", "-XX:+UseSerialGC",
            f"-Dlog4j.configuration=file:{log4j}", "-cp", f"{libs}/*", *args,
        ]  # fmt: skip

    def start(self, *, timeout: float = 90.0, detach: bool = False) -> None:
        """Format the storage if new, start the broker and wait until it answers.

        ``detach`` puts the broker in its own session so it outlives the
        caller (``spur dev up``); otherwise it shares the caller's session.
        """
        libs = kafka_jars(self.version, self.cache_dir)
        private_dir(self.data_dir)
        properties = self.data_dir / "server.properties"
        properties.write_text(self._properties())
        (self.data_dir / "log4j.properties").write_text(_LOG4J.format(log=self.log_path))
        cluster_id = self._cluster_id(libs)
        scram = [
            arg
            for name, password in (self.secure.users.items() if self.secure else ())
            for arg in ("--add-scram", f"SCRAM-SHA-512=[name={name},password={password}]")
        ]
        formatted = subprocess.run(
            self._java(libs, "kafka.tools.StorageTool", "format", "-g",
                       "-t", cluster_id, "-c", str(properties), *scram),
            capture_output=True, text=True, check=False,
        )  # fmt: skip
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
            secure_up = self.secure is None or _accepts_connections(self.secure.port)
            if self._log_has_ready_line(offset) and _accepts_connections(self.port) and secure_up:
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


def _accepts_connections(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped) counts as gone.
    with contextlib.suppress(OSError):
        if Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z"):
            return False
    return True


def stop_pid(pid: int, timeout: float, wait: object = None) -> None:
    """Stop one process we started: SIGTERM, then SIGKILL after ``timeout``."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(wait):
            with contextlib.suppress(subprocess.TimeoutExpired):
                wait(timeout=0.2)
                return
        elif not pid_alive(pid):
            return
        else:
            time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    if callable(wait):
        wait()


# --- `spur dev up` / `spur dev down`: a broker that outlives the command -----------


@dataclass(frozen=True)
class DevBrokerState:
    pid: int
    bootstrap: str
    data_dir: str
    version: str


def _state_file(dev_dir: Path) -> Path:
    return dev_dir / "state.json"


def running_dev_broker(dev_dir: Path) -> DevBrokerState | None:
    """The broker `spur dev up` started in this directory, if it still runs."""
    path = _state_file(dev_dir)
    if not path.is_file():
        return None
    try:
        state = DevBrokerState(**json.loads(path.read_text()))
    except (ValueError, TypeError):
        return None
    if not pid_alive(state.pid) or not _is_our_broker(state):
        return None
    return state


def _is_our_broker(state: DevBrokerState) -> bool:
    # Guard against a recycled PID: only ever signal the java process whose
    # command line names our data directory.
    try:
        cmdline = Path(f"/proc/{state.pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return False
    return b"kafka.Kafka" in cmdline and state.data_dir.encode() in cmdline


def dev_up(
    dev_dir: Path, version: str, cache_dir: Path | None = None
) -> tuple[DevBrokerState, bool]:
    """Start the dev broker unless it runs; return its state and whether it was started."""
    current = running_dev_broker(dev_dir)
    if current is not None:
        return current, False
    broker = LocalBroker(data_dir=dev_dir.resolve() / "data", version=version, cache_dir=cache_dir)
    broker.start(detach=True)
    assert broker.process is not None
    state = DevBrokerState(
        pid=broker.process.pid,
        bootstrap=broker.bootstrap,
        data_dir=str(broker.data_dir),
        version=version,
    )
    write_private(_state_file(dev_dir), json.dumps(asdict(state)))
    return state, True


def dev_down(dev_dir: Path) -> DevBrokerState | None:
    """Stop the dev broker if it runs; return the state of the one stopped."""
    state = running_dev_broker(dev_dir)
    if state is not None:
        stop_pid(state.pid, timeout=20.0)
    _state_file(dev_dir).unlink(missing_ok=True)
    return state
