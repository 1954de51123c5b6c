"""What the local broker and store leave in the state directory, and how to find them.

``spur dev up`` (spur.dev) starts a Kafka broker and a ClickHouse store that
outlive the command; every later spur process in the same directory talks to
them by default. This module is the contract between the two sides: the
dev tools write these files, and the commands and workers
(spur.broker, spur.store_access) read them, without importing the dev
tools (which need Java, Maven and chdb). Both ends agree here on the file
names, the store's users and databases, and how a running server is told
apart from a recycled PID.

Files, all private to the user (0700/0600):
``<state_dir>/dev-broker/state.json`` (pid, bootstrap, data dir, version)
and ``<data dir>/credentials.json`` (the broker's generated passwords);
``<state_dir>/store/server.json`` (pid and port of the running store, and
the protection its engine runs under: spur.dev.store_engine) and
``credentials.json`` (the store users' generated passwords).

Blocking: small file reads (and one write, when the passwords are first
generated). Raises OSError only from that write.
"""

from __future__ import annotations

import contextlib
import json
import secrets
from dataclasses import asdict, dataclass, field
from pathlib import Path

from spur.client.kafka import KafkaTarget, Secret
from spur.client.private import private_dir, write_private
from spur.processes import pid_alive
from spur_sinks.tables import Reader

# --- the dev broker of `spur dev up` ------------------------------------------------


@dataclass(frozen=True)
class DevBrokerState:
    pid: int
    bootstrap: str
    data_dir: str
    version: str


def dev_broker_file(dev_dir: Path) -> Path:
    return dev_dir / "state.json"


def running_dev_broker(dev_dir: Path) -> DevBrokerState | None:
    """The broker `spur dev up` started in this directory, if it still runs."""
    path = dev_broker_file(dev_dir)
    if not path.is_file():
        return None
    try:
        state = DevBrokerState(**json.loads(path.read_text()))
    except (ValueError, TypeError):
        return None
    if not pid_alive(state.pid) or not _is_our_broker(state):
        return None
    return state


@dataclass(frozen=True)
class BrokerCredentials:
    """A local broker's generated passwords, created with its storage (spur.dev.broker).

    spur's processes log in as ``username`` (SCRAM-SHA-512); the broker's
    own inter-broker user and its controller listener have passwords of
    their own, which no client needs.
    """

    username: str
    password: str = field(repr=False)
    broker_password: str = field(repr=False)
    controller_password: str = field(repr=False)

    def target(self, bootstrap: str) -> KafkaTarget:
        return KafkaTarget(bootstrap, "SASL_PLAINTEXT", self.username, Secret(self.password))


def broker_credentials_file(data_dir: Path) -> Path:
    return data_dir / "credentials.json"


def read_broker_credentials(data_dir: Path) -> BrokerCredentials | None:
    """The credentials of the broker keeping its data in ``data_dir``; None if it has none."""
    with contextlib.suppress(OSError, ValueError, TypeError):
        return BrokerCredentials(**json.loads(broker_credentials_file(data_dir).read_text()))
    return None


def new_broker_credentials(data_dir: Path, username: str = "spur") -> BrokerCredentials:
    """Random passwords for a broker whose storage is about to be formatted, kept 0600."""
    made = BrokerCredentials(
        username, *(secrets.token_urlsafe(24) for _ in ("client", "broker", "controller"))
    )
    private_dir(data_dir)
    write_private(broker_credentials_file(data_dir), json.dumps(asdict(made), indent=2))
    return made


def _is_our_broker(state: DevBrokerState) -> bool:
    # Guard against a recycled PID: only ever signal the java process whose
    # command line names our data directory.
    try:
        cmdline = Path(f"/proc/{state.pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return False
    return b"kafka.Kafka" in cmdline and state.data_dir.encode() in cmdline


# --- the local store (`spur store`, `spur dev up`) -----------------------------------

# Users, mirroring deploy/clickhouse (spur.dev.store_config says what each may do).
WRITER = "spur_writer"
ADMIN = "spur_admin"
READERS: tuple[Reader, ...] = ("billing", "ops", "engineer")
DATABASE = "spur"

# The module the store's server process runs as (`python -m spur.dev.local_store DIR`),
# and the name it ran as before 2026-12-06, so that a store an older spur
# started is still found (and stopped) after an upgrade.
STORE_MODULE = "spur.dev.local_store"
_FORMER_STORE_MODULES = ("spur.dev.store",)


@dataclass(frozen=True)
class Credentials:
    """The generated password of each user (``credentials.json``)."""

    passwords: dict[str, str]

    def url(self, user: str, port: int, database: str = DATABASE) -> str:
        return f"clickhouse://{user}:{self.passwords[user]}@127.0.0.1:{port}/{database}"


@dataclass(frozen=True)
class RunningStore:
    pid: int
    port: int
    directory: Path
    credentials: Credentials
    # "confined (Landlock ABI n)" or "NOT confined: why" (spur.dev.store_engine).
    protection: str = "unknown"

    def url(self, user: str = WRITER, database: str = DATABASE) -> str:
        """A ``SPUR_CLICKHOUSE_URL`` for ``user`` (with its password: keep it private)."""
        return self.credentials.url(user, self.port, database)


def credentials(directory: Path) -> Credentials:
    """The store's passwords, generated on first use and kept (mode 0600)."""
    path = directory / "credentials.json"
    with contextlib.suppress(OSError, ValueError):
        passwords = json.loads(path.read_text())["passwords"]
        if set(passwords) >= {WRITER, ADMIN, *READERS}:
            return Credentials(passwords)
    private_dir(directory)
    made = {user: secrets.token_urlsafe(24) for user in (WRITER, ADMIN, *READERS)}
    write_private(path, json.dumps({"passwords": made}, indent=2))
    return Credentials(made)


def store_server_file(directory: Path) -> Path:
    return directory / "server.json"


def running_store(directory: Path) -> RunningStore | None:
    """The local store serving ``directory``, if one runs."""
    try:
        state = json.loads(store_server_file(directory).read_text())
        pid, port = int(state["pid"]), int(state["port"])
        protection = str(state.get("protection", "unknown"))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    if not pid_alive(pid) or not _is_our_server(pid, directory):
        return None
    return RunningStore(pid, port, directory, credentials(directory), protection)


def _is_our_server(pid: int, directory: Path) -> bool:
    # Guard against a recycled PID: only a process serving this directory.
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    modules = {name.encode() for name in (STORE_MODULE, *_FORMER_STORE_MODULES)}
    return bool(modules & set(cmdline)) and str(directory.resolve()).encode() in cmdline
