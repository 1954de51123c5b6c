"""Landlock rule sets (spur.dev.landlock); what the store's engine asks for (store_engine)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from spur.dev import landlock
from spur.dev.landlock import (
    BIND_TCP,
    CONNECT_TCP,
    FILE_RIGHTS,
    READ_DIR,
    READ_FILE,
    REFER,
    TRUNCATE,
    WRITE_FILE,
    Needs,
    ruleset,
)
from spur.dev.store_engine import engine_environment, engine_needs

NEEDS = Needs(
    read=(Path("/lib"), Path("/etc/hosts"), Path("/absent")),
    read_write=(Path("/srv/data"), Path("/dev/null")),
    bind_ports=(9000,),
    connect_ports=(9000, 8123),
)
IS_DIR = {Path("/lib"): True, Path("/etc/hosts"): False, Path("/srv/data"): True}
IS_DIR[Path("/dev/null")] = False


def test_a_rule_set_grants_what_is_needed_and_handles_everything_else() -> None:
    rules = ruleset(7, NEEDS, IS_DIR)
    granted = dict(rules.paths)
    assert granted[Path("/lib")] == READ_FILE | READ_DIR
    assert granted[Path("/etc/hosts")] == READ_FILE  # a file: no directory rights
    assert granted[Path("/srv/data")] & WRITE_FILE
    assert granted[Path("/srv/data")] & REFER
    assert granted[Path("/dev/null")] & ~FILE_RIGHTS == 0
    assert Path("/absent") not in granted  # nothing to grant on this host
    assert rules.handled_fs == landlock.fs_rights(7)
    assert rules.ports == ((8123, CONNECT_TCP), (9000, BIND_TCP | CONNECT_TCP))
    assert rules.scoped  # no signals to, no abstract sockets of, outside processes


def test_an_older_kernel_gets_only_the_rights_it_knows() -> None:
    old = ruleset(1, NEEDS, IS_DIR)
    assert old.handled_fs & (REFER | TRUNCATE) == 0
    assert all(rights & ~old.handled_fs == 0 for _, rights in old.paths)
    assert (old.handled_net, old.ports, old.scoped) == (0, (), 0)
    assert ruleset(3, NEEDS, IS_DIR).handled_fs & TRUNCATE
    assert ruleset(0, NEEDS, IS_DIR).handled_fs == 0


def test_the_engine_may_write_only_its_data_and_read_none_of_the_store_s_secrets() -> None:
    store = Path("/state/store")
    needs = engine_needs(store, 9000, (Path("/py/lib"),))
    assert store / "data" in needs.read_write
    assert not any(
        p == store or p.is_relative_to(store) for p in needs.read_write if p != store / "data"
    )
    readable = [p for p in needs.read if p.is_relative_to(store)]
    assert readable == [store / "config.xml", store / "users.xml"]  # no credentials.json
    assert not any(str(p) in ("/etc", "/proc", "/proc/self", "/") for p in needs.read)
    assert (needs.bind_ports, needs.connect_ports) == ((9000,), ())
    assert set(engine_environment(store)) == {"PATH", "LANG", "TMPDIR"}  # nothing inherited


@pytest.mark.skipif(landlock.abi_version()[0] == 0, reason="this kernel has no Landlock")
def test_a_confined_process_reads_only_what_its_rules_grant(tmp_path: Path) -> None:
    allowed, denied = tmp_path / "allowed", tmp_path / "denied"
    allowed.mkdir()
    (allowed / "a").write_text("yes")
    denied.write_text("no")
    script = textwrap.dedent(f"""
        import socket
        from pathlib import Path
        from spur.dev import landlock
        abi, _ = landlock.abi_version()
        needs = landlock.Needs(read=(Path({str(allowed)!r}),), bind_ports=(0,))
        kept = landlock.restrict_self(landlock.ruleset(abi, needs, landlock.existing(needs.read)))
        print(Path({str(allowed)!r}, "a").read_text())
        for attempt in (lambda: Path({str(denied)!r}).read_text(),
                        lambda: Path("/proc/self/environ").read_bytes(),
                        lambda: Path({str(allowed)!r}, "new").write_text("x"),
                        lambda: socket.create_connection(("127.0.0.1", 9), timeout=1)):
            try:
                attempt()
                print("ALLOWED")
            except PermissionError:
                print("denied")
    """)
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()
    assert out == ["yes", "denied", "denied", "denied", "denied"]


def test_without_landlock_the_engine_says_it_is_not_confined(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from spur.dev import store_engine

    monkeypatch.setattr(landlock, "abi_version", lambda: (0, "the kernel offers no Landlock"))
    protection, kept = store_engine.confine(tmp_path, 9000)
    assert protection == "NOT confined: the kernel offers no Landlock"
    assert kept == []
    assert not store_engine.is_confined(protection)
