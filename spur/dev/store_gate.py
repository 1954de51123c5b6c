"""The local store's gate: the only way into an engine that has a network of its own.

The engine must serve a password-less ``default`` account (its own serving
call logs in as it), and that account's scalar ``file()`` reads whatever
the engine can, its data files included. So where it can, the engine runs
in a network namespace of its own (spur.dev.store_engine), where no other
process of the host reaches its port, and the store's server admits clients
through this gate: it listens on the store's port on 127.0.0.1, reads each
connection's first packet (the native protocol's Hello: client name,
version, database, user, password) and forwards the connection into the
engine's namespace only when the user is one of spur's named accounts,
whose passwords the engine checks. ``default`` and every other name are
refused before a byte reaches the engine.

Readers (every admitted account but ``unbounded`` ones, spur's own) are
held to what reading needs: their packets pass whole and checked
(spur.dev.reader_requests), each within :data:`PACKET_SECONDS`, and an
account has at most :data:`READER_CONNECTIONS` at once. A refusal is
answered with an exception packet that says why. The store's read watch
(spur.dev.read_watch) can :meth:`Gate.cut` the connection of a read it
cannot cancel otherwise.

Threads: one accepts, one connects into the engine's namespace (``setns``
changes only the calling thread's), two per connection copy bytes; daemons.
:meth:`Gate.start` returns at once; raises OSError when the port cannot be
bound or the namespace not entered."""

from __future__ import annotations

import contextlib
import errno
import queue
import socket
import threading
import time
from collections.abc import Collection, Iterator
from concurrent.futures import Future

from spur.dev.gate_os import enter_network_namespace
from spur.dev.gate_passage import CHUNK, RefusalLog, copy_until, released_once, shut
from spur.dev.reader_requests import ReaderRequests, Refused, refusal_packet
from spur.dev.store_hello import MAX_HELLO_BYTES, read_hello
from spur_sinks.store_errors import TOO_MANY_SIMULTANEOUS_QUERIES

# A client's whole Hello must arrive within this, however it dribbles in.
HELLO_SECONDS = 10.0
# Connections whose Hello is not complete yet, at most: any local user can
# open idle connections, and each holds a descriptor and a thread until its
# deadline; beyond this a new one is closed at once. spur's clients send
# their Hello within milliseconds, so they are not held up.
MAX_PENDING_HELLOS = 256
# Connections of one reader account at once: the engine holds a thread for
# each, and the writer's must find one free.
READER_CONNECTIONS = 128
# A reader's packet must arrive whole within this (the gate holds it till then).
PACKET_SECONDS = 10.0
# How long a refused client may still send (its request's rest) and read why.
REFUSAL_SECONDS = 2.0
# Codes of the exception packets the gate answers with (ClickHouse's; the
# others are spur_sinks.store_errors').
UNKNOWN_USER = 192
# accept() failing for want of descriptors (a flood of connections): wait for
# some to close rather than stop accepting for good.
_OUT_OF_DESCRIPTORS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})


class Gate:
    """Admits spur's named accounts on 127.0.0.1:``port`` into the engine's namespace."""

    def __init__(self, port: int, users: Collection[str], unbounded: Collection[str]) -> None:
        self.port = port
        self.users = frozenset(users)
        self.unbounded = frozenset(unbounded)
        # Forwarded connections by the port the engine sees them from (its
        # system.processes.port): what the read watch names to cut.
        self._passages: dict[int, tuple[socket.socket, socket.socket]] = {}
        self._readers: dict[str, int] = {}
        self._lock = threading.Lock()
        self._requests: queue.Queue[Future[socket.socket] | None] = queue.Queue()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._pending = threading.BoundedSemaphore(MAX_PENDING_HELLOS)
        self._refusals = RefusalLog("refused %d connection(s), the last as %r")
        self._requests_refused = RefusalLog("refused %d reader connection(s), the last of %r: %s")
        self._closed = False
        self.started = False

    def start(self, netns: str) -> None:
        """Listen, and connect admitted clients into the namespace at ``netns``."""
        self.point_at(netns)
        self._listener.bind(("127.0.0.1", self.port))
        self._listener.listen(128)
        self.started = True
        threading.Thread(target=self._accept, name="store-gate", daemon=True).start()

    def point_at(self, netns: str) -> None:
        """Connect into ``netns`` from now on (a restarted engine has a new namespace)."""
        self._requests.put(None)  # ends the previous connector, if any
        self._requests = queue.Queue()
        ready: Future[None] = Future()
        threading.Thread(
            target=self._connector, args=(netns, self._requests, ready),
            name="store-gate-connector", daemon=True,
        ).start()  # fmt: skip
        ready.result(timeout=10)

    def engine_connection(self, timeout: float = 5.0) -> socket.socket:
        """A connection to the engine's port, from inside its namespace."""
        wanted: Future[socket.socket] = Future()
        self._requests.put(wanted)
        return wanted.result(timeout=timeout)

    def engine_listens(self) -> bool:
        try:
            self.engine_connection(timeout=2.0).close()
        except OSError as exc:
            # No descriptor for the check itself says nothing about the engine.
            return exc.errno in _OUT_OF_DESCRIPTORS
        except TimeoutError:
            return False
        return True

    def cut(self, engine_ports: Collection[int]) -> int:
        """Close the connections the engine sees from ``engine_ports``, both ends: a
        read the engine waits on for its client (or its client for it) ends at once.
        How many of them were open."""
        with self._lock:
            passages = [self._passages[p] for p in engine_ports if p in self._passages]
        for passage in passages:
            shut(*passage)
        return len(passages)

    def close(self) -> None:
        self._closed = True
        self._requests.put(None)
        # Shut down first: a close alone leaves the port listening while the
        # accepting thread waits in accept(), until the process ends, and a
        # store started meanwhile would find its port taken and move.
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()

    def _connector(
        self,
        netns: str,
        requests: queue.Queue[Future[socket.socket] | None],
        ready: Future[None],
    ) -> None:
        try:
            enter_network_namespace(netns)
        except OSError as exc:
            ready.set_exception(exc)
            return
        ready.set_result(None)
        while (wanted := requests.get()) is not None:
            try:
                wanted.set_result(socket.create_connection(("127.0.0.1", self.port), timeout=5))
            except OSError as exc:
                wanted.set_exception(exc)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError as exc:
                if self._closed or exc.errno not in _OUT_OF_DESCRIPTORS:
                    return  # closed: the store stops
                time.sleep(0.1)
                continue
            if not self._pending.acquire(blocking=False):
                client.close()  # too many Hellos unfinished: see MAX_PENDING_HELLOS
                continue
            try:
                threading.Thread(target=self._admit, args=(client,), daemon=True).start()
            except RuntimeError:  # no thread to be had: refused like the above
                self._pending.release()
                client.close()

    def _admit(self, client: socket.socket) -> None:
        with contextlib.ExitStack() as closing:
            closing.callback(client.close)
            pending = closing.enter_context(released_once(self._pending))
            deadline = time.monotonic() + HELLO_SECONDS
            data = b""
            try:
                hello = None
                while hello is None and len(data) < MAX_HELLO_BYTES:
                    client.settimeout(max(0.01, deadline - time.monotonic()))
                    chunk = client.recv(4096)
                    if not chunk:
                        return
                    data += chunk
                    hello = read_hello(data)
                pending()
                if hello is None:
                    return
                if hello.user not in self.users:
                    raise Refused("the local store admits only spur's accounts", UNKNOWN_USER)
                requests = None
                if hello.user not in self.unbounded:
                    closing.enter_context(self._reader_slot(hello.user))
                    requests = ReaderRequests(hello.revision)
                    first = requests.feed(data[hello.size :])
                else:
                    first = data[hello.size :]
                engine = self.engine_connection()
            except Refused as refused:
                self._refuse(client, refused, hello.user if hello else "")
                return
            except (OSError, ValueError, TimeoutError):
                return
            closing.callback(engine.close)
            closing.enter_context(self._passage(client, engine))
            for side in (client, engine):
                side.settimeout(None)
                # The protocol is request and answer in small packets: without this,
                # Nagle's algorithm and delayed ACKs held each answer ~40 ms (measured).
                side.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            engine.sendall(data[: hello.size] + first)
            back = threading.Thread(target=copy_until, args=(engine, client), daemon=True)
            back.start()
            if requests is None:
                copy_until(client, engine)
            else:
                self._relay(client, engine, requests, hello.user)
            back.join()

    def _relay(
        self, client: socket.socket, engine: socket.socket, requests: ReaderRequests, user: str
    ) -> None:
        """A reader's packets to the engine, each once it arrived whole and passed."""
        began = 0.0  # when the packet arriving now began
        try:
            while True:
                left = began + PACKET_SECONDS - time.monotonic()
                client.settimeout(max(0.01, left) if requests.partial else None)
                try:
                    chunk = client.recv(CHUNK)
                except TimeoutError:
                    raise Refused(f"a packet that took over {PACKET_SECONDS:.0f} s") from None
                if not chunk:
                    break
                was_partial = requests.partial
                if whole := requests.feed(chunk):
                    engine.sendall(whole)
                if requests.partial and (whole or not was_partial):
                    began = time.monotonic()
        except Refused as refused:
            self._refuse(client, refused, user)
        except OSError:
            pass
        shut(client, engine)

    def _refuse(self, client: socket.socket, refused: Refused, user: str) -> None:
        """Tell the client why (an exception packet it shows), and log it (rate-limited).
        What the client still sends is read and dropped for a moment: closed at once,
        a client still sending its request sees a broken pipe instead of the reason."""
        if refused.code == UNKNOWN_USER:
            self._refusals.refused(user)
        else:
            self._requests_refused.refused(user, str(refused))
        deadline = time.monotonic() + REFUSAL_SECONDS
        with contextlib.suppress(OSError):
            client.settimeout(REFUSAL_SECONDS)
            why = f"refused by the local store's gate: {refused}"
            client.sendall(refusal_packet(refused.code, why))
            client.shutdown(socket.SHUT_WR)
            while (left := deadline - time.monotonic()) > 0:
                client.settimeout(left)
                if not client.recv(CHUNK):
                    break

    @contextlib.contextmanager
    def _reader_slot(self, user: str) -> Iterator[None]:
        """One of ``user``'s READER_CONNECTIONS; raises Refused when none is free."""
        with self._lock:
            if self._readers.get(user, 0) >= READER_CONNECTIONS:
                raise Refused(
                    f"{user} holds {READER_CONNECTIONS} connections to the store at once, "
                    "its limit: close some", TOO_MANY_SIMULTANEOUS_QUERIES,
                )  # fmt: skip
            self._readers[user] = self._readers.get(user, 0) + 1
        try:
            yield
        finally:
            with self._lock:
                self._readers[user] -= 1

    @contextlib.contextmanager
    def _passage(self, client: socket.socket, engine: socket.socket) -> Iterator[None]:
        port = engine.getsockname()[1]
        with self._lock:
            self._passages[port] = (client, engine)
        try:
            yield
        finally:
            with self._lock:
                self._passages.pop(port, None)
