"""The local ClickHouse server: the chdb engine serving the native protocol.

No ClickHouse server binary can be installed on the machines spur is built
on, but the chdb engine (ClickHouse 26.9 in a Python extension) contains
clickhouse-local's server start-up: ``SYSTEM START LISTEN TCP`` opens the
real native protocol on loopback for as long as the call that issued it runs
(shared/notes/chdb.md). So the store is a process of its own, and every spur
process (workers, commands, demo, tests) is a client of it through
clickhouse-driver, exactly as of a production server.

A store directory holds (all private to the user, 0700/0600):
``config.xml`` and ``users.xml`` (generated; ports, users, grants),
``credentials.json`` (the generated passwords, read by spur's clients),
``server.json`` (pid and port of the running server), ``data/`` and
``store.log``.

Users, mirroring deploy/clickhouse: ``spur_writer`` (workers and commands
that change data), ``billing`` / ``ops`` / ``engineer`` (read-only, with the
grants of deploy/clickhouse/users.d), ``spur_admin`` (used only by the
server itself to end its serving query). The engine's own serving call runs
as the password-less ``default``: it is reachable on loopback, so it is
granted nothing but starting listeners.

Blocking: everything here blocks; :func:`serve` blocks until SIGTERM/SIGINT.
Raises :class:`LocalStoreError` with the log's tail when the server does not
come up.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib
import json
import logging
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from schemas.errors import SpurError
from sinks.tables import Reader, readable_by
from sinks.url import ReadLimits
from spur.client.private import private_dir, write_private
from spur.dev.broker import free_port, pid_alive, stop_pid

log = logging.getLogger(__name__)

WRITER = "spur_writer"
ADMIN = "spur_admin"
READERS: tuple[Reader, ...] = ("billing", "ops", "engineer")
DATABASE = "spur"

# Grants of the read-only users: the registry's, as in deploy/clickhouse/users.d's roles.
_READ_GRANTS: dict[str, tuple[str, ...]] = {reader: readable_by(reader) for reader in READERS}

# What `spur status`, retention and the benchmarks read about spur's tables
# (ClickHouse shows each user only the rows of tables it may read).
_METADATA_GRANTS = tuple(
    f"GRANT SELECT ON system.{table}" for table in ("parts", "tables", "columns")
)

# The query that keeps the listeners open: one row per second, forever,
# discarded (without FORMAT Null the planner drops the sleep and spins).
_SERVING_QUERY = (
    "SYSTEM START LISTEN TCP; "
    "SELECT sleepEachRow(1) FROM numbers(1000000000000) "
    "SETTINGS max_block_size = 1 FORMAT Null"
)
LOG_TAIL_LINES = 30


class LocalStoreError(SpurError, RuntimeError):
    """The local store could not be started, found or stopped; the message says why."""


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


def _user(name: str, password: str, profile: str, grants: list[str]) -> str:
    digest = hashlib.sha256(password.encode()).hexdigest()
    grant_xml = "".join(f"<query>{escape(g)}</query>" for g in grants)
    return (
        f"<{name}><password_sha256_hex>{digest}</password_sha256_hex>"
        "<networks><ip>127.0.0.1</ip><ip>::1</ip></networks>"
        f"<profile>{profile}</profile><quota>default</quota>"
        f"<grants>{grant_xml}</grants></{name}>"
    )


def users_xml(creds: Credentials, limits: ReadLimits, databases: Sequence[str]) -> str:
    """Users, profiles and grants of the local store (see the module docstring).

    ClickHouse's wildcard grants cover whole databases only, so the readers'
    table grants name each database they may read (``databases``).
    """
    readers = [
        _user(
            name,
            creds.passwords[name],
            "readonly",
            [
                *(f"GRANT SELECT ON {db}.{table}" for db in databases for table in tables),
                *_METADATA_GRANTS,
            ],
        )
        for name, tables in _READ_GRANTS.items()
    ]
    users = [
        # The engine's own serving call; nothing else may be done as it.
        "<default><password></password><networks><ip>127.0.0.1</ip></networks>"
        "<profile>default</profile><quota>default</quota><grants>"
        "<query>GRANT SYSTEM LISTEN ON *.*</query>"
        "<query>GRANT CREATE TEMPORARY TABLE ON *.*</query></grants></default>",
        _user(ADMIN, creds.passwords[ADMIN], "default", ["GRANT ALL ON *.* WITH GRANT OPTION"]),
        _user(
            WRITER,
            creds.passwords[WRITER],
            "default",
            # External tables (key lookups) need temporary tables.
            [
                *(f"GRANT ALL ON {db}.*" for db in databases),
                "GRANT CREATE TEMPORARY TABLE, TABLE ENGINE ON *.*",
                *_METADATA_GRANTS,
            ],
        ),
        *readers,
    ]
    # readonly=1: a reader can change no setting, so the limits of the profile
    # are final (readonly=2 would let a query loosen them). One exception, as
    # in deploy/clickhouse: max_execution_time may be lowered, never raised,
    # because the Grafana ClickHouse plugin sends it with every query.
    limit_xml = "".join(f"<{k}>{v}</{k}>" for k, v in limits.as_query_settings().items())
    constraints = (
        "<constraints><max_execution_time><min>1</min>"
        f"<max>{limits.max_execution_seconds}</max><changeable_in_readonly/>"
        "</max_execution_time></constraints>"
    )
    return (
        "<clickhouse><profiles><default/>"
        f"<readonly><readonly>1</readonly>{limit_xml}{constraints}</readonly></profiles>"
        f"<users>{''.join(users)}</users><quotas><default/></quotas></clickhouse>"
    )


def config_xml(port: int) -> str:
    return (
        "<clickhouse><listen_host>127.0.0.1</listen_host>"
        f"<tcp_port>{port}</tcp_port><users_config>users.xml</users_config>"
        "<logger><level>warning</level><console>1</console></logger>"
        # Needed by the readers' changeable_in_readonly constraint (users.xml).
        "<access_control_improvements><settings_constraints_replace_previous>true"
        "</settings_constraints_replace_previous></access_control_improvements>"
        "</clickhouse>"
    )


def _server_file(directory: Path) -> Path:
    return directory / "server.json"


def running_store(directory: Path) -> RunningStore | None:
    """The local store serving ``directory``, if one runs."""
    try:
        state = json.loads(_server_file(directory).read_text())
        pid, port = int(state["pid"]), int(state["port"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not pid_alive(pid) or not _is_our_server(pid, directory):
        return None
    return RunningStore(pid, port, directory, credentials(directory))


def _is_our_server(pid: int, directory: Path) -> bool:
    # Guard against a recycled PID: only a process serving this directory.
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"spur.dev.store" in cmdline and str(directory.resolve()).encode() in cmdline


@contextlib.contextmanager
def _directory_lock(directory: Path) -> Iterator[None]:
    """One server per directory: an exclusive lock held while it serves."""
    handle = (directory / "server.lock").open("w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as exc:
        handle.close()
        raise LocalStoreError(
            f"another spur store serves {directory} already (see {_server_file(directory)}); "
            "stop it first (spur dev down, or Ctrl-C in its terminal)"
        ) from exc
    try:
        yield
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


def serve(
    directory: Path,
    databases: Sequence[str] = (DATABASE,),
    port: int = 0,
    limits: ReadLimits | None = None,
) -> None:
    """Serve ``directory`` on 127.0.0.1 until SIGTERM or SIGINT (the foreground server).

    The chdb engine reads ``config.xml`` from the working directory when it
    is imported and when it serves: it is imported here first (before the
    directory has a config), then the process moves into the directory.
    """
    directory = private_dir(directory.resolve())
    with _directory_lock(directory):
        # chdb's low-level call (the full clickhouse-local path, the only one
        # that can start listeners); the import opens a session: before chdir.
        # That session reads ./config.xml (LocalStore starts us in the
        # directory) and cannot parse the readers' constraints: a previous
        # run's config must not be there (it is written anew below).
        (directory / "config.xml").unlink(missing_ok=True)
        engine: Any = importlib.import_module("chdb._chdb")

        creds = credentials(directory)
        port = port or free_port()
        write_private(directory / "users.xml", users_xml(creds, limits or ReadLimits(), databases))
        write_private(directory / "config.xml", config_xml(port))
        private_dir(directory / "data")
        os.chdir(directory)
        failure: list[BaseException] = []
        stopped = threading.Event()

        def listen() -> None:
            try:
                engine.query(_SERVING_QUERY, "TabSeparated", path=str(directory / "data"))
            except BaseException as exc:  # reported by the main thread
                failure.append(exc)
            finally:
                stopped.set()

        serving = threading.Thread(target=listen, name="spur-store", daemon=True)
        serving.start()
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        _wait_ready(port, creds, stopped)
        write_private(_server_file(directory), json.dumps({"pid": os.getpid(), "port": port}))
        print(f"spur store serving {directory} on 127.0.0.1:{port}", flush=True)
        while not stop.wait(0.5):
            if stopped.is_set():
                break
        _server_file(directory).unlink(missing_ok=True)
        if not stopped.is_set():
            _end_serving_query(port, creds)
            stopped.wait(30)
        if failure and not stop.is_set():
            raise LocalStoreError(f"the store stopped serving: {failure[0]}")


def _wait_ready(port: int, creds: Credentials, stopped: threading.Event) -> None:
    from clickhouse_driver import Client

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not stopped.is_set():
        client = Client(
            host="127.0.0.1", port=port, user=ADMIN, password=creds.passwords[ADMIN],
            connect_timeout=1,
        )  # fmt: skip
        try:
            client.execute("SELECT 1")
            return
        except Exception:  # not listening yet
            time.sleep(0.1)
        finally:
            client.disconnect()
    raise LocalStoreError("the store did not start listening")


def _end_serving_query(port: int, creds: Credentials) -> None:
    from clickhouse_driver import Client

    client = Client(host="127.0.0.1", port=port, user=ADMIN, password=creds.passwords[ADMIN])
    try:
        # The serving call runs with an empty user name (measured).
        client.execute("KILL QUERY WHERE user = '' AND query LIKE '%sleepEachRow%' SYNC")
    except Exception as exc:  # the process exits anyway
        log.warning("ending the serving query failed: %s", exc)
    finally:
        client.disconnect()


class LocalStore:
    """A local store server in a child process (``spur dev up``, demo, tests)."""

    def __init__(
        self,
        directory: Path,
        databases: Sequence[str] = (DATABASE,),
        limits: ReadLimits | None = None,
    ) -> None:
        """``limits``: the readers' limits; unset, the SPUR_QUERY_* environment's."""
        self.directory = directory.resolve()
        self.databases = tuple(databases)
        self.limits = limits
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def log_path(self) -> Path:
        return self.directory / "store.log"

    def start(self, *, timeout: float = 60.0, detach: bool = False) -> RunningStore:
        """Start the server and wait until it answers; raise with the log tail if not."""
        private_dir(self.directory)
        with self.log_path.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "spur.dev.store", str(self.directory), *self.databases],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=detach,
                cwd=self.directory,
                env=self._environment(),
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            running = running_store(self.directory)
            if running is not None and running.pid == self.process.pid:
                return running
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        self.stop()
        raise LocalStoreError(
            f"the local ClickHouse store in {self.directory} did not start; "
            f"last lines of {self.log_path}:\n{self.log_tail()}"
        )

    def _environment(self) -> dict[str, str]:
        if self.limits is None:
            return dict(os.environ)
        return {
            **os.environ,
            "SPUR_QUERY_MAX_MEMORY_BYTES": str(self.limits.max_memory_bytes),
            "SPUR_QUERY_MAX_SECONDS": str(self.limits.max_execution_seconds),
            "SPUR_QUERY_MAX_ROWS": str(self.limits.max_result_rows),
        }

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM, wait, then SIGKILL. Safe to call twice."""
        if self.process is None:
            return
        stop_pid(self.process.pid, timeout, wait=self.process.wait)
        self.process = None


def store_up(directory: Path, databases: Sequence[str] = (DATABASE,)) -> tuple[RunningStore, bool]:
    """Start the store in the background unless it runs; the store, and whether started."""
    current = running_store(directory)
    if current is not None:
        return current, False
    return LocalStore(directory, databases).start(detach=True), True


def store_down(directory: Path) -> RunningStore | None:
    """Stop the background store of ``directory`` if it runs; the one stopped."""
    current = running_store(directory)
    if current is not None:
        stop_pid(current.pid, timeout=30.0)
    return current


if __name__ == "__main__":
    from spur.settings import SettingsError, load_settings

    os.umask(0o077)  # everything the engine writes is private to the user
    try:
        # Only paths and database names on the command line; the limits come
        # from the environment (SPUR_QUERY_*), like every other setting.
        limits = load_settings().read_limits
        serve(Path(sys.argv[1]), sys.argv[2:] or (DATABASE,), limits=limits)
    except (LocalStoreError, SettingsError) as exc:
        print(f"spur store: {exc}", file=sys.stderr)
        sys.exit(1)
